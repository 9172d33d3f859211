using System.Security.Cryptography;
using System.Text;
using RobotPG.Messaging.Security;
using Xunit;

namespace RobotPG.Messaging.Tests.Security;

public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;
    public override DateTimeOffset GetUtcNow() => Now;
}

public class SignatureTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 4, 0, 0, TimeSpan.Zero);
    private readonly OperatorKey _operator = OperatorKey.Generate();
    private readonly OperatorKey _stranger = OperatorKey.Generate();
    private readonly ManualClock _clock = new(T0);
    private readonly SignatureVerifier _verifier;

    public SignatureTests() => _verifier = new SignatureVerifier([_operator.PublicKeyPem], TimeSpan.FromSeconds(30), _clock);

    public void Dispose()
    {
        _operator.Dispose();
        _stranger.Dispose();
        _verifier.Dispose();
    }

    private SignedMessage Start(OperatorKey key, long? timestampMs = null, string audience = "bb-1", string purpose = "cmd/start", string? nonce = null) =>
        key.Sign(audience, purpose, Encoding.UTF8.GetBytes("{\"episodes\":3}"), timestampMs ?? T0.ToUnixTimeMilliseconds(), nonce);

    private SignatureVerdict Check(SignedMessage m, Freshness f = Freshness.Required) => _verifier.Verify(m, "bb-1", "cmd/start", f, out _);

    [Fact]
    public void CanonicalBytesAreTheDocumentedLinesWithTheBodyHash()
    {
        byte[] body = "hello"u8.ToArray();
        string expected = "robotpg-signature-v1\nk1\nbb-1\ncmd/start\n1700000000000\nabcd\n"
            + "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"; // sha256("hello"), published test vector
        Assert.Equal(expected, Encoding.UTF8.GetString(SignedMessage.CanonicalBytes("k1", "bb-1", "cmd/start", 1700000000000, "abcd", body)));
    }

    [Fact]
    public void SignatureVerifiesWithAnIndependentEcdsaOverTheCanonicalBytes()
    {
        var m = Start(_operator);
        using var pub = ECDsa.Create();
        pub.ImportFromPem(_operator.PublicKeyPem);
        Assert.True(pub.VerifyData(m.CanonicalBytes(), m.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(pub.ExportSubjectPublicKeyInfo()))[..16], m.KeyId);
        Assert.Equal(SignatureVerdict.Accepted, Check(m));
    }

    [Fact]
    public void ForgedSignatureIsRefused()
    {
        var genuine = Start(_operator);
        // The stranger signs and claims the operator's key id: the signature does not verify under that key.
        var theirs = Start(_stranger);
        var forged = new SignedMessage(_operator.KeyId, "bb-1", "cmd/start", genuine.TimestampMs, theirs.Nonce, theirs.Signature, theirs.Body);
        Assert.Equal(SignatureVerdict.BadSignature, Check(forged));
        var flipped = (byte[])genuine.Signature.Clone();
        flipped[10] ^= 1;
        Assert.Equal(SignatureVerdict.BadSignature, Check(new SignedMessage(genuine.KeyId, "bb-1", "cmd/start", genuine.TimestampMs, genuine.Nonce, flipped, genuine.Body)));
    }

    [Fact]
    public void WrongKeyIsRefused() => Assert.Equal(SignatureVerdict.UnknownKey, Check(Start(_stranger)));

    [Fact]
    public void TamperedBodyOrHeaderIsRefused()
    {
        var m = Start(_operator);
        var body = new SignedMessage(m.KeyId, m.Audience, m.Purpose, m.TimestampMs, m.Nonce, m.Signature, Encoding.UTF8.GetBytes("{\"episodes\":4}"));
        Assert.Equal(SignatureVerdict.BadSignature, Check(body));
        var time = new SignedMessage(m.KeyId, m.Audience, m.Purpose, m.TimestampMs + 1, m.Nonce, m.Signature, m.Body);
        Assert.Equal(SignatureVerdict.BadSignature, Check(time));
        var verb = new SignedMessage(m.KeyId, m.Audience, "cmd/stop", m.TimestampMs, m.Nonce, m.Signature, m.Body);
        Assert.Equal(SignatureVerdict.BadSignature, _verifier.Verify(verb, "bb-1", "cmd/stop", Freshness.Required, out _));
    }

    [Fact]
    public void SignedForAnotherRobotOrVerbIsRefused()
    {
        Assert.Equal(SignatureVerdict.WrongAudience, Check(Start(_operator, audience: "bb-2")));
        Assert.Equal(SignatureVerdict.WrongPurpose, Check(Start(_operator, purpose: "cmd/stop")));
    }

    [Fact]
    public void ExpiredAndFutureTimestampsAreRefusedAtTheWindowEdge()
    {
        long now = T0.ToUnixTimeMilliseconds();
        Assert.Equal(SignatureVerdict.Accepted, Check(Start(_operator, now - 30_000)));
        Assert.Equal(SignatureVerdict.Expired, Check(Start(_operator, now - 30_001)));
        Assert.Equal(SignatureVerdict.Accepted, Check(Start(_operator, now + 30_000)));
        Assert.Equal(SignatureVerdict.FromTheFuture, Check(Start(_operator, now + 30_001)));
        // Disk checkpoints and retained broadcasts skip the window on purpose.
        Assert.Equal(SignatureVerdict.Accepted, Check(Start(_operator, now - 3_600_000), Freshness.NotChecked));
    }

    [Fact]
    public void ReplayIsRefusedAndAForgeryDoesNotBurnTheNonce()
    {
        var m = Start(_operator, nonce: "00112233445566778899aabbccddeeff");
        var forged = new SignedMessage(m.KeyId, m.Audience, m.Purpose, m.TimestampMs, m.Nonce, new byte[64], m.Body);
        Assert.Equal(SignatureVerdict.BadSignature, Check(forged));
        Assert.Equal(SignatureVerdict.Accepted, Check(m));
        Assert.Equal(SignatureVerdict.Replayed, _verifier.Verify(m, "bb-1", "cmd/start", Freshness.Required, out string? reason));
        Assert.Contains(m.Nonce, reason);
        // After the window the nonce is forgotten, but the message is then expired anyway.
        _clock.Now = T0.AddSeconds(31);
        Assert.Equal(SignatureVerdict.Expired, Check(m));
    }

    [Fact]
    public void JsonFormRoundTripsAndUnsignedOrBrokenJsonIsClassified()
    {
        var m = Start(_operator);
        byte[] json = m.ToCommandJson();
        var parsed = SignedMessage.TryParseCommandJson(json, out var verdict, out _);
        Assert.Equal(SignatureVerdict.Accepted, verdict);
        Assert.Equal(SignatureVerdict.Accepted, Check(parsed!));
        Assert.Equal("{\"episodes\":3}", Encoding.UTF8.GetString(parsed!.Body.Span));

        Assert.Null(SignedMessage.TryParseCommandJson("{\"episodes\":3}"u8, out verdict, out _));
        Assert.Equal(SignatureVerdict.Unsigned, verdict);
        Assert.Null(SignedMessage.TryParseCommandJson("{not json"u8, out verdict, out _));
        Assert.Equal(SignatureVerdict.Malformed, verdict);
        // Through the JSON tree, not a text replace: the writer escapes '+' in base64 (\u002B), so a text replace
        // silently missed about half of the (randomised) ECDSA signatures.
        var tree = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        tree["signature"] = Convert.ToBase64String(new byte[10]);
        Assert.Null(SignedMessage.TryParseCommandJson(Encoding.UTF8.GetBytes(tree.ToJsonString()), out verdict, out string? error));
        Assert.Equal(SignatureVerdict.Malformed, verdict);
        Assert.Contains("10 bytes", error);
    }

    [Fact]
    public void EnvelopeCarriesBinaryBodiesAndRefusesTruncation()
    {
        byte[] blob = new byte[1000];
        new Random(5).NextBytes(blob);
        var m = _operator.Sign("bb-1", SignedMessage.PolicyPurpose, blob, T0.ToUnixTimeMilliseconds());
        byte[] envelope = m.ToEnvelope();
        Assert.True(SignedMessage.IsEnvelope(envelope));
        var parsed = SignedMessage.TryParseEnvelope(envelope, out var verdict, out _);
        Assert.Equal(SignatureVerdict.Accepted, verdict);
        Assert.Equal(blob, parsed!.Body.ToArray());
        Assert.Equal(SignatureVerdict.Accepted, _verifier.Verify(parsed, "bb-1", SignedMessage.PolicyPurpose, Freshness.NotChecked, out _));

        // Truncated body: parses, but the hash no longer matches.
        var cut = SignedMessage.TryParseEnvelope(envelope.AsMemory(0, envelope.Length - 1), out verdict, out _);
        Assert.Equal(SignatureVerdict.BadSignature, _verifier.Verify(cut!, "bb-1", SignedMessage.PolicyPurpose, Freshness.NotChecked, out _));
        Assert.Null(SignedMessage.TryParseEnvelope(envelope.AsMemory(0, 20), out verdict, out _));
        Assert.Equal(SignatureVerdict.Malformed, verdict);
        Assert.Null(SignedMessage.TryParseEnvelope(blob, out verdict, out _));
        Assert.Equal(SignatureVerdict.Unsigned, verdict);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void KeysRoundTripThroughPemFilesAndAReadablePrivateKeyIsRefused()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rpg-key-" + Guid.NewGuid().ToString("N"));
        try
        {
            _operator.Save(dir);
            string priv = Path.Combine(dir, OperatorKey.PrivateKeyFileName);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(priv));
            using (var loaded = OperatorKey.Load(priv)) Assert.Equal(_operator.KeyId, loaded.KeyId);
            using (var v = SignatureVerifier.FromFiles([Path.Combine(dir, OperatorKey.PublicKeyFileName)], clock: _clock))
                Assert.Equal(SignatureVerdict.Accepted, v.Verify(Start(_operator), "bb-1", "cmd/start", Freshness.Required, out _));
            Assert.Throws<IOException>(() => _operator.Save(dir));
            File.SetUnixFileMode(priv, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            var e = Assert.Throws<CryptographicException>(() => OperatorKey.Load(priv));
            Assert.Contains("chmod 600", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
