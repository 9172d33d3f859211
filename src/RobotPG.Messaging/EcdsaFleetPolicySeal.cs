using System.Security.Cryptography;
using System.Text;

namespace RobotPG.Messaging;

/// <summary>
/// ECDSA P-256 (SHA-256, IEEE P1363 64-byte signature) over a domain string naming the fleet and the
/// body: payload = body ‖ signature. Binding the fleet name means a policy signed for one fleet is refused
/// by another. Keys are PEM files (PKCS#8 private key for the learner, SubjectPublicKeyInfo for robots).
/// </summary>
public sealed class EcdsaFleetPolicySeal : IFleetPolicySigner, IFleetPolicyVerifier, IDisposable
{
    public const int SignatureLength = 64;

    private readonly ECDsa _key;
    private readonly byte[] _domain;
    private readonly bool _canSign;

    private EcdsaFleetPolicySeal(ECDsa key, string fleet, bool canSign)
    {
        _key = key;
        _domain = Encoding.UTF8.GetBytes($"robotpg-fleet-policy/{fleet}\n");
        _canSign = canSign;
    }

    /// <summary>A new key pair (tests, <c>robotpg-sim fleet</c> keygen).</summary>
    public static EcdsaFleetPolicySeal Generate(string fleet) => new(ECDsa.Create(ECCurve.NamedCurves.nistP256), fleet, true);

    /// <summary>From a PEM: a private key signs and verifies, a public key only verifies. Throws <see cref="CryptographicException"/> naming the problem.</summary>
    public static EcdsaFleetPolicySeal FromPem(string pem, string fleet)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (ArgumentException e)
        {
            key.Dispose();
            throw new CryptographicException("not an ECDSA key PEM: " + e.Message, e);
        }
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new CryptographicException($"the key is ECDSA {key.KeySize}, not P-256");
        }
        bool canSign = pem.Contains("PRIVATE KEY", StringComparison.Ordinal);
        return new EcdsaFleetPolicySeal(key, fleet, canSign);
    }

    public string PrivateKeyPem => _key.ExportPkcs8PrivateKeyPem();

    public string PublicKeyPem => _key.ExportSubjectPublicKeyInfoPem();

    public byte[] Sign(ReadOnlyMemory<byte> body)
    {
        if (!_canSign) throw new InvalidOperationException("a public key cannot sign");
        var payload = new byte[body.Length + SignatureLength];
        body.Span.CopyTo(payload);
        byte[] signed = Signed(body.Span);
        lock (_key)
            _key.SignData(signed, payload.AsSpan(body.Length), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return payload;
    }

    public bool TryVerify(ReadOnlyMemory<byte> payload, out ReadOnlyMemory<byte> body, out string? reason)
    {
        body = default;
        if (payload.Length <= SignatureLength)
        {
            reason = "unsigned (shorter than a signature)";
            return false;
        }
        var candidate = payload[..^SignatureLength];
        bool valid;
        lock (_key)
            valid = _key.VerifyData(Signed(candidate.Span), payload.Span[^SignatureLength..], HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        if (!valid)
        {
            reason = "signature does not match the operator key and this fleet";
            return false;
        }
        body = candidate;
        reason = null;
        return true;
    }

    private byte[] Signed(ReadOnlySpan<byte> body)
    {
        var bytes = new byte[_domain.Length + body.Length];
        _domain.CopyTo(bytes, 0);
        body.CopyTo(bytes.AsSpan(_domain.Length));
        return bytes;
    }

    public void Dispose() => _key.Dispose();
}
