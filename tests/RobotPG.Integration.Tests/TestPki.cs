using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RobotPG.Integration.Tests;

/// <summary>
/// A throw-away PKI for TLS tests, made in process: a CA, a server certificate for 127.0.0.1/localhost,
/// client certificates, all written as PEM into <see cref="Directory"/> (keys 0600), plus mosquitto
/// password and ACL files.
/// </summary>
internal sealed class TestPki : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestPki()
    {
        Directory = Path.Combine(Path.GetTempPath(), "robotpg-pki-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        var request = new CertificateRequest("CN=robotpg test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CaFile = Write("ca.crt", Ca.ExportCertificatePem());
        (ServerCertFile, ServerKeyFile, ServerCertificate) = Issue("server", server: true);
    }

    public string Directory { get; }
    public X509Certificate2 Ca { get; }
    public string CaFile { get; }
    public string ServerCertFile { get; }
    public string ServerKeyFile { get; }

    /// <summary>Server certificate with its private key, for the embedded broker.</summary>
    public X509Certificate2 ServerCertificate { get; }

    /// <summary>A certificate signed by this CA: server (SAN 127.0.0.1, localhost) or client (CN = name).</summary>
    public (string CertFile, string KeyFile, X509Certificate2 Certificate) Issue(string name, bool server = false)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }
        byte[] serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7f;
        using var issued = request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey),
            DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        var withKey = issued.CopyWithPrivateKey(key);
        string certFile = Write(name + ".crt", issued.ExportCertificatePem());
        string keyFile = Write(name + ".key", key.ExportPkcs8PrivateKeyPem(), secret: true);
        // SslStream on Linux wants a key it can use after the ephemeral import: round-trip through PKCS#12.
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        withKey.Dispose();
        return (certFile, keyFile, usable);
    }

    /// <summary>A mosquitto password file with these users (hashed by mosquitto_passwd -b).</summary>
    public string PasswordFile(params (string User, string Password)[] users)
    {
        string path = Path.Combine(Directory, "passwd");
        File.WriteAllText(path, "");
        string tool = MosquittoBroker.FindExecutable("mosquitto_passwd") ?? throw new InvalidOperationException("mosquitto_passwd is not installed");
        foreach (var (user, password) in users)
        {
            using var p = Process.Start(new ProcessStartInfo(tool, ["-b", path, user, password]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            p.WaitForExit();
            if (p.ExitCode != 0) throw new InvalidOperationException("mosquitto_passwd failed: " + p.StandardError.ReadToEnd());
        }
        return path;
    }

    /// <summary>A credentials file for the robot (0600).</summary>
    public string CredentialsFile(string name, string user, string password) => Write(name, $"username={user}\npassword={password}\n", secret: true);

    public string Write(string name, string text, bool secret = false)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite
            : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return path;
    }

    public void Dispose()
    {
        _caKey.Dispose();
        ServerCertificate.Dispose();
        Ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, true);
        }
        catch (IOException)
        {
        }
    }
}
