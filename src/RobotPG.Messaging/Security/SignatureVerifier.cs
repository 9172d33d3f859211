using System.Security.Cryptography;

namespace RobotPG.Messaging.Security;

/// <summary>What a signature check decided. Everything but <see cref="Accepted"/> is a refusal.</summary>
public enum SignatureVerdict
{
    Accepted,
    /// <summary>No signature at all.</summary>
    Unsigned,
    /// <summary>Unreadable envelope or header field.</summary>
    Malformed,
    /// <summary>Signed by a key that is not in the trusted list.</summary>
    UnknownKey,
    /// <summary>The signature does not match the header and body (forged or tampered).</summary>
    BadSignature,
    /// <summary>Signed for another robot or fleet.</summary>
    WrongAudience,
    /// <summary>Signed for another verb or use.</summary>
    WrongPurpose,
    /// <summary>Timestamp older than the freshness window.</summary>
    Expired,
    /// <summary>Timestamp further ahead than the freshness window (clock skew or a stockpiled message).</summary>
    FromTheFuture,
    /// <summary>This key and nonce were seen already within the window.</summary>
    Replayed,
}

/// <summary>Whether a check applies the freshness window and the nonce cache.</summary>
public enum Freshness
{
    /// <summary>Commands and live policy pushes: timestamp within the window, nonce never seen before.</summary>
    Required,
    /// <summary>Checkpoints on disk and retained fleet broadcasts: signature, key, audience and purpose only.</summary>
    NotChecked,
}

/// <summary>
/// Verifies <see cref="SignedMessage"/>s against the operator public keys a robot trusts. The order of checks
/// is fixed: key known → signature valid → audience → purpose → time window → nonce unseen (the nonce is
/// recorded only for a message that passed everything else, so a forged message cannot burn a nonce).
/// Thread-safe.
/// </summary>
public sealed class SignatureVerifier : IDisposable
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, ECDsa> _keys = new(StringComparer.Ordinal);
    private readonly NonceCache _nonces;
    private readonly TimeProvider _clock;
    private readonly long _windowMs;

    public SignatureVerifier(IEnumerable<string> publicKeyPems, TimeSpan? window = null, TimeProvider? clock = null, int nonceCapacity = 4096)
    {
        _clock = clock ?? TimeProvider.System;
        _windowMs = (long)(window ?? DefaultWindow).TotalMilliseconds;
        if (_windowMs <= 0) throw new ArgumentOutOfRangeException(nameof(window), "freshness window must be positive");
        _nonces = new NonceCache(nonceCapacity);
        foreach (string pem in publicKeyPems)
        {
            var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(pem);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                key.Dispose();
                throw new CryptographicException("operator key is not an ECDSA public key PEM: " + e.Message, e);
            }
            if (key.KeySize != 256)
            {
                key.Dispose();
                throw new CryptographicException("operator key is not a P-256 key");
            }
            _keys.TryAdd(OperatorKey.FingerprintOf(key), key);
        }
    }

    /// <summary>Reads each file as a public key PEM; errors name the file.</summary>
    public static SignatureVerifier FromFiles(IEnumerable<string> paths, TimeSpan? window = null, TimeProvider? clock = null)
    {
        var pems = new List<string>();
        foreach (string path in paths)
        {
            try
            {
                pems.Add(File.ReadAllText(path));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CryptographicException($"{path}: cannot read operator key: {e.Message}", e);
            }
        }
        return new SignatureVerifier(pems, window, clock);
    }

    public int KeyCount => _keys.Count;

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    /// <summary>Checks <paramref name="message"/>; on refusal <paramref name="reason"/> is one line saying why.</summary>
    public SignatureVerdict Verify(SignedMessage message, string audience, string purpose, Freshness freshness, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_keys.TryGetValue(message.KeyId, out var key))
        {
            reason = $"key {message.KeyId} is not an operator key of this robot";
            return SignatureVerdict.UnknownKey;
        }
        bool valid;
        lock (key) // ECDsa instances are not documented thread-safe
            valid = key.VerifyData(message.CanonicalBytes(), message.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        if (!valid)
        {
            reason = $"signature by key {message.KeyId} does not match the message";
            return SignatureVerdict.BadSignature;
        }
        if (!string.Equals(message.Audience, audience, StringComparison.Ordinal))
        {
            reason = $"signed for '{message.Audience}', not '{audience}'";
            return SignatureVerdict.WrongAudience;
        }
        if (!string.Equals(message.Purpose, purpose, StringComparison.Ordinal))
        {
            reason = $"signed for '{message.Purpose}', not '{purpose}'";
            return SignatureVerdict.WrongPurpose;
        }
        if (freshness == Freshness.Required)
        {
            long now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            long age = now - message.TimestampMs;
            if (age > _windowMs)
            {
                reason = $"signed {age} ms ago, older than the {_windowMs} ms window";
                return SignatureVerdict.Expired;
            }
            if (-age > _windowMs)
            {
                reason = $"signed {-age} ms in the future, beyond the {_windowMs} ms window (check the clocks)";
                return SignatureVerdict.FromTheFuture;
            }
            // Anything older than the window is refused above, so a nonce needs remembering only that long.
            if (!_nonces.TryAdd(message.KeyId + ":" + message.Nonce, message.TimestampMs + _windowMs, now))
            {
                reason = $"nonce {message.Nonce} was used already";
                return SignatureVerdict.Replayed;
            }
        }
        reason = null;
        return SignatureVerdict.Accepted;
    }

    public void Dispose()
    {
        foreach (var key in _keys.Values) key.Dispose();
        _keys.Clear();
    }
}

/// <summary>
/// Nonces seen within the freshness window, each kept until its message would be expired anyway.
/// Bounded: when full of unexpired nonces a new one is refused (treated as a replay) rather than
/// forgetting one that could then be replayed.
/// </summary>
internal sealed class NonceCache(int capacity)
{
    private readonly Dictionary<string, long> _expiry = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _byExpiry = new();
    private readonly Lock _gate = new();

    public bool TryAdd(string nonce, long expiresAtMs, long nowMs)
    {
        lock (_gate)
        {
            while (_byExpiry.TryPeek(out string? oldest, out long at) && at < nowMs)
            {
                _byExpiry.Dequeue();
                _expiry.Remove(oldest);
            }
            if (_expiry.ContainsKey(nonce) || _expiry.Count >= capacity) return false;
            _expiry.Add(nonce, expiresAtMs);
            _byExpiry.Enqueue(nonce, expiresAtMs);
            return true;
        }
    }
}
