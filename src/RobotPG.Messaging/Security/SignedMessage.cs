using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RobotPG.Messaging.Security;

/// <summary>
/// A body with an operator's signature over who it is for (audience: a robot id or <c>fleet/{name}</c>),
/// what it is for (purpose: <c>cmd/{verb}</c>, <c>policy</c>), when (Unix ms), a one-time nonce and the
/// SHA-256 of the body. The signed bytes are <see cref="CanonicalBytes"/>; the signature is ECDSA P-256
/// over SHA-256 in IEEE P1363 form (r‖s, 64 bytes).
/// Two wire forms: JSON (<see cref="ToCommandJson"/>, commands; the body travels as a string so its bytes
/// are exact) and a binary envelope (<see cref="ToEnvelope"/>, checkpoints on disk and on the wire).
/// </summary>
public sealed class SignedMessage
{
    public const int SignatureSize = 64;
    public const string PolicyPurpose = "policy";
    private static ReadOnlySpan<byte> EnvelopeMagic => "RPGSIGN1"u8;
    private const int MaxHeaderBytes = 4096;

    public SignedMessage(string keyId, string audience, string purpose, long timestampMs, string nonce, byte[] signature, ReadOnlyMemory<byte> body)
    {
        KeyId = keyId;
        Audience = audience;
        Purpose = purpose;
        TimestampMs = timestampMs;
        Nonce = nonce;
        Signature = signature;
        Body = body;
    }

    /// <summary>Fingerprint of the signer's public key (<see cref="OperatorKey.FingerprintOf"/>).</summary>
    public string KeyId { get; }
    public string Audience { get; }
    public string Purpose { get; }
    public long TimestampMs { get; }
    public string Nonce { get; }
    public byte[] Signature { get; }
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>
    /// The bytes the signature covers: a version line, then key id, audience, purpose, timestamp, nonce and
    /// the body's SHA-256 in hex, one per line. The text fields are checked to hold no line break
    /// (<see cref="ValidateField"/>), so no two different headers give the same bytes.
    /// </summary>
    public static byte[] CanonicalBytes(string keyId, string audience, string purpose, long timestampMs, string nonce, ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(body, hash);
        string text = $"robotpg-signature-v1\n{keyId}\n{audience}\n{purpose}\n{timestampMs}\n{nonce}\n{Convert.ToHexStringLower(hash)}";
        return Encoding.UTF8.GetBytes(text);
    }

    public byte[] CanonicalBytes() => CanonicalBytes(KeyId, Audience, Purpose, TimestampMs, Nonce, Body.Span);

    /// <summary>Null when <paramref name="value"/> can be a header field; else why not.</summary>
    public static string? ValidateField(string name, string? value)
    {
        if (string.IsNullOrEmpty(value)) return $"{name} is empty";
        if (value.Length > 200) return $"{name} is longer than 200 characters";
        foreach (char c in value)
            if (c < 0x21 || c > 0x7e) return $"{name} may only hold printable ASCII without spaces";
        return null;
    }

    /// <summary>The JSON form: <c>{"keyId","audience","purpose","timestampMs","nonce","signature","body"}</c>; the body must be UTF-8 text.</summary>
    public byte[] ToCommandJson()
    {
        var json = new SignedMessageJson
        {
            KeyId = KeyId, Audience = Audience, Purpose = Purpose, TimestampMs = TimestampMs, Nonce = Nonce,
            Signature = Convert.ToBase64String(Signature), Body = Encoding.UTF8.GetString(Body.Span),
        };
        return JsonSerializer.SerializeToUtf8Bytes(json, SecurityJsonContext.Default.SignedMessageJson);
    }

    /// <summary>
    /// Parses the JSON form. A payload that is JSON but carries no signature fields is <see cref="SignatureVerdict.Unsigned"/>;
    /// anything unreadable is <see cref="SignatureVerdict.Malformed"/>. Never throws on bad input.
    /// </summary>
    public static SignedMessage? TryParseCommandJson(ReadOnlySpan<byte> payload, out SignatureVerdict verdict, out string? error)
    {
        SignedMessageJson? json;
        try
        {
            json = JsonSerializer.Deserialize(payload, SecurityJsonContext.Default.SignedMessageJson);
        }
        catch (JsonException e)
        {
            verdict = SignatureVerdict.Malformed;
            error = "not a JSON object: " + e.Message;
            return null;
        }
        if (json is null)
        {
            verdict = SignatureVerdict.Malformed;
            error = "empty JSON";
            return null;
        }
        if (json.Signature is null && json.KeyId is null)
        {
            verdict = SignatureVerdict.Unsigned;
            error = "no signature";
            return null;
        }
        return FromJson(json, json.Body is null ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(json.Body), out verdict, out error);
    }

    /// <summary>Binary form: <c>"RPGSIGN1" | u32 header length (LE) | header JSON (no body) | body bytes</c>.</summary>
    public byte[] ToEnvelope()
    {
        var json = new SignedMessageJson
        {
            KeyId = KeyId, Audience = Audience, Purpose = Purpose, TimestampMs = TimestampMs, Nonce = Nonce,
            Signature = Convert.ToBase64String(Signature),
        };
        byte[] header = JsonSerializer.SerializeToUtf8Bytes(json, SecurityJsonContext.Default.SignedMessageJson);
        var result = new byte[8 + 4 + header.Length + Body.Length];
        EnvelopeMagic.CopyTo(result);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), (uint)header.Length);
        header.CopyTo(result.AsSpan(12));
        Body.Span.CopyTo(result.AsSpan(12 + header.Length));
        return result;
    }

    /// <summary>True when <paramref name="bytes"/> start like an envelope (anything else is unsigned).</summary>
    public static bool IsEnvelope(ReadOnlySpan<byte> bytes) => bytes.StartsWith(EnvelopeMagic);

    /// <summary>Parses the binary form; bytes without the magic are <see cref="SignatureVerdict.Unsigned"/>.</summary>
    public static SignedMessage? TryParseEnvelope(ReadOnlyMemory<byte> bytes, out SignatureVerdict verdict, out string? error)
    {
        var span = bytes.Span;
        if (!IsEnvelope(span))
        {
            verdict = SignatureVerdict.Unsigned;
            error = "no signature envelope";
            return null;
        }
        if (span.Length < 12)
        {
            verdict = SignatureVerdict.Malformed;
            error = "envelope is truncated";
            return null;
        }
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
        if (headerLength > MaxHeaderBytes || headerLength > span.Length - 12)
        {
            verdict = SignatureVerdict.Malformed;
            error = $"envelope header length {headerLength} does not fit the {span.Length} bytes";
            return null;
        }
        SignedMessageJson? json;
        try
        {
            json = JsonSerializer.Deserialize(span.Slice(12, (int)headerLength), SecurityJsonContext.Default.SignedMessageJson);
        }
        catch (JsonException e)
        {
            verdict = SignatureVerdict.Malformed;
            error = "envelope header is not JSON: " + e.Message;
            return null;
        }
        if (json is null || json.Body is not null)
        {
            verdict = SignatureVerdict.Malformed;
            error = "envelope header is not a signature";
            return null;
        }
        return FromJson(json, bytes[(12 + (int)headerLength)..], out verdict, out error);
    }

    private static SignedMessage? FromJson(SignedMessageJson json, ReadOnlyMemory<byte> body, out SignatureVerdict verdict, out string? error)
    {
        verdict = SignatureVerdict.Malformed;
        error = ValidateField("keyId", json.KeyId) ?? ValidateField("audience", json.Audience)
            ?? ValidateField("purpose", json.Purpose) ?? ValidateField("nonce", json.Nonce);
        if (error is not null) return null;
        if (json.TimestampMs is not long timestamp)
        {
            error = "timestampMs is missing";
            return null;
        }
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(json.Signature ?? "");
        }
        catch (FormatException)
        {
            error = "signature is not base64";
            return null;
        }
        if (signature.Length != SignatureSize)
        {
            error = $"signature is {signature.Length} bytes, expected {SignatureSize}";
            return null;
        }
        verdict = SignatureVerdict.Accepted;
        return new SignedMessage(json.KeyId!, json.Audience!, json.Purpose!, timestamp, json.Nonce!, signature, body);
    }
}

/// <summary>Wire shape of <see cref="SignedMessage"/> (camelCase JSON).</summary>
public sealed class SignedMessageJson
{
    public string? KeyId { get; set; }
    public string? Audience { get; set; }
    public string? Purpose { get; set; }
    public long? TimestampMs { get; set; }
    public string? Nonce { get; set; }
    public string? Signature { get; set; }
    public string? Body { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SignedMessageJson))]
internal sealed partial class SecurityJsonContext : JsonSerializerContext;
