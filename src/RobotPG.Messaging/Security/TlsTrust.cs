using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace RobotPG.Messaging.Security;

/// <summary>
/// TLS for MQTT clients: the broker's certificate must chain to the configured CA (or the system store when
/// none is configured) and name the host we dialled; a client certificate is presented for mutual TLS.
/// </summary>
public static class TlsTrust
{
    public static MqttClientTlsOptions ClientOptions(MqttEndpoint endpoint)
    {
        var builder = new MqttClientTlsOptionsBuilder().UseTls().WithTargetHost(endpoint.Host);
        if (endpoint.CaFile is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(endpoint.CaFile);
            builder = builder.WithCertificateValidationHandler(e => ChainsTo(ca, e.Certificate, e.SslPolicyErrors));
        }
        if (endpoint.ClientCertificateFile is not null)
        {
            var cert = X509Certificate2.CreateFromPemFile(endpoint.ClientCertificateFile, endpoint.ClientKeyFile);
            builder = builder.WithClientCertificates([cert]);
        }
        return builder.Build();
    }

    /// <summary>The same trust for a plain <see cref="System.Net.Security.SslStream"/> (the frame link's): CA, host name, client certificate.</summary>
    public static SslClientAuthenticationOptions SslOptions(MqttEndpoint endpoint)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = endpoint.Host };
        if (endpoint.CaFile is not null)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(endpoint.CaFile);
            options.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ChainsTo(ca, certificate, errors);
        }
        if (endpoint.ClientCertificateFile is not null)
            options.ClientCertificates = [X509Certificate2.CreateFromPemFile(endpoint.ClientCertificateFile, endpoint.ClientKeyFile)];
        return options;
    }

    /// <summary>True when <paramref name="certificate"/> names the host and chains to <paramref name="ca"/> alone.</summary>
    public static bool ChainsTo(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if ((errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        // A private CA publishes no revocation lists; a lost robot's certificate is removed at the broker instead.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
