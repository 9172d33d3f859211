using System.Security.Cryptography;

namespace RobotPG.Messaging.Security;

/// <summary>
/// An operator's ECDSA P-256 signing key (PEM, PKCS#8). The public half goes into each robot's config
/// (<c>security.operatorKeys</c>); the private half stays on the operator's desktop, mode 0600.
/// The key id is <see cref="FingerprintOf"/> of the public key, so configs need no names that could drift.
/// </summary>
public sealed class OperatorKey : IDisposable
{
    public const string PrivateKeyFileName = "operator.key.pem";
    public const string PublicKeyFileName = "operator.pub.pem";

    private readonly ECDsa _key;

    private OperatorKey(ECDsa key)
    {
        _key = key;
        KeyId = FingerprintOf(key);
    }

    public string KeyId { get; }

    public static OperatorKey Generate() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>Loads a private key PEM; a key that is not P-256 or a file readable by group/others is refused.</summary>
    public static OperatorKey Load(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
                throw new CryptographicException($"{path}: private key is readable by group or others (chmod 600 it)");
        }
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
            if (key.KeySize != 256) throw new CryptographicException($"{path}: not a P-256 key");
            // An imported public-only key would fail at the first signature; find out now.
            key.ExportECPrivateKey();
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new CryptographicException($"{path}: not an ECDSA P-256 private key PEM ({e.Message})", e);
        }
        return new OperatorKey(key);
    }

    /// <summary>Writes <see cref="PrivateKeyFileName"/> (0600) and <see cref="PublicKeyFileName"/> into <paramref name="directory"/>; refuses to overwrite.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        string priv = Path.Combine(directory, PrivateKeyFileName);
        string pub = Path.Combine(directory, PublicKeyFileName);
        if (File.Exists(priv) || File.Exists(pub)) throw new IOException($"{directory}: a key already exists there; not overwriting it");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(priv, options)) writer.Write(_key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(pub, _key.ExportSubjectPublicKeyInfoPem());
    }

    public string PublicKeyPem => _key.ExportSubjectPublicKeyInfoPem();

    /// <summary>Signs <paramref name="body"/> for <paramref name="audience"/> and <paramref name="purpose"/> at <paramref name="timestampMs"/> with a fresh random nonce.</summary>
    public SignedMessage Sign(string audience, string purpose, ReadOnlyMemory<byte> body, long timestampMs, string? nonce = null)
    {
        nonce ??= NewNonce();
        string? problem = SignedMessage.ValidateField("audience", audience) ?? SignedMessage.ValidateField("purpose", purpose)
            ?? SignedMessage.ValidateField("nonce", nonce);
        if (problem is not null) throw new ArgumentException(problem);
        byte[] data = SignedMessage.CanonicalBytes(KeyId, audience, purpose, timestampMs, nonce, body.Span);
        byte[] signature = _key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new SignedMessage(KeyId, audience, purpose, timestampMs, nonce, signature, body);
    }

    public SignedMessage Sign(string audience, string purpose, ReadOnlyMemory<byte> body, TimeProvider? clock = null) =>
        Sign(audience, purpose, body, (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeMilliseconds());

    /// <summary>128 random bits in hex.</summary>
    public static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>First 8 bytes of SHA-256 over the SubjectPublicKeyInfo DER, hex: the key id used in signatures and logs.</summary>
    public static string FingerprintOf(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()).AsSpan(0, 8));

    public void Dispose() => _key.Dispose();
}
