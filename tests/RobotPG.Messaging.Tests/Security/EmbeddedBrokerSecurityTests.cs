using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Protocol;
using RobotPG.Messaging.Security;
using Xunit;

namespace RobotPG.Messaging.Tests.Security;

public class EmbeddedBrokerSecurityTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Local addresses of the listening TCP sockets on <paramref name="port"/>, from /proc/net/tcp and tcp6.</summary>
    private static List<IPAddress> Listeners(int port)
    {
        var result = new List<IPAddress>();
        foreach (string file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(file)) continue;
            foreach (string line in File.ReadLines(file).Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f[3] != "0A") continue; // TCP_LISTEN
                string[] local = f[1].Split(':');
                if (int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) != port) continue;
                // The kernel prints the address as host-order 32-bit words.
                byte[] raw = Convert.FromHexString(local[0]);
                for (int w = 0; w < raw.Length; w += 4) Array.Reverse(raw, w, 4);
                result.Add(new IPAddress(raw));
            }
        }
        return result;
    }

    [Fact]
    public async Task ListensOnLoopbackOnlyAndRefusesAConnectionToAnotherLocalAddress()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        var listeners = Listeners(broker.Port);
        Assert.Contains(IPAddress.Loopback, listeners);
        if (broker.ListensOnIpv6) Assert.Contains(IPAddress.IPv6Loopback, listeners);
        Assert.All(listeners, a => Assert.True(IPAddress.IsLoopback(a), $"listening on {a}"));

        // Reachable on loopback; any other address of this machine refuses the TCP connection.
        using (var ok = new TcpClient()) await ok.ConnectAsync(IPAddress.Loopback, broker.Port);
        var other = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (other is not null)
        {
            using var refused = new TcpClient();
            var e = await Assert.ThrowsAsync<SocketException>(() => refused.ConnectAsync(other, broker.Port));
            Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        }
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task StandardClientsWithAnEmptyIdConnectUnderEitherProtocol(string version)
    {
        string? tool = new[] { "/usr/bin/mosquitto_sub", "/usr/local/bin/mosquitto_sub" }.FirstOrDefault(File.Exists);
        Assert.True(tool is not null, "mosquitto_sub is not installed (apt-get install mosquitto-clients; .ci/run does)");
        await using var broker = await EmbeddedBroker.StartAsync();
        await using var publisher = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "status-writer"));
        publisher.Start();
        Assert.True(await publisher.WaitConnectedAsync(Timeout));
        Assert.True(publisher.TryPublish("robotpg/bb/status", "{\"state\":\"online\"}"u8, MqttQualityOfServiceLevel.AtLeastOnce, retain: true));
        // Acknowledged by the broker, so it is retained before mosquitto_sub subscribes (not still queued in our
        // client: one run at load average 55 had mosquitto_sub wait out its 15 s).
        Assert.True(await publisher.FlushAsync(Timeout));
        // No -i: mosquitto_sub sends an empty client id under 3.1.1.
        var info = new ProcessStartInfo(tool!, ["-h", "127.0.0.1", "-p", broker.Port.ToString(CultureInfo.InvariantCulture), "-V", version, "-t", "robotpg/+/status", "-C", "1", "-W", "15"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var sub = Process.Start(info)!;
        string output = await sub.StandardOutput.ReadToEndAsync();
        string error = await sub.StandardError.ReadToEndAsync();
        await sub.WaitForExitAsync();
        Assert.True(sub.ExitCode == 0, error);
        Assert.Equal("{\"state\":\"online\"}", output.Trim());
    }

    [Fact]
    public async Task CredentialsAreRequiredWhenSet()
    {
        await using var broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions { UserName = "bb", Password = "s3cret" });
        var quick = new ResilientMqttClientOptions { MinReconnectDelay = TimeSpan.FromMilliseconds(20), MaxReconnectDelay = TimeSpan.FromMilliseconds(100) };
        await using var wrong = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "w", "bb", "guess"), quick);
        await using var none = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "n"), quick);
        await using var right = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "r", "bb", "s3cret"), quick);
        wrong.Start();
        none.Start();
        right.Start();
        Assert.True(await right.WaitConnectedAsync(Timeout));
        Assert.False(wrong.IsConnected);
        Assert.False(none.IsConnected);
        Assert.Equal(0, wrong.Connects);
        Assert.Equal(0, none.Connects);
        Assert.Contains("BadUserNameOrPassword", wrong.LastError ?? await WaitError(wrong));
        Assert.DoesNotContain("guess", wrong.LastError);
        Assert.DoesNotContain("s3cret", right.Endpoint.ToString());
    }

    [Fact]
    public async Task TlsBrokerIsReachedWithItsCaAndNotWithAnother()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=test ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
        using var withKey = issued.CopyWithPrivateKey(serverKey);
        using var server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        string dir = Path.Combine(Path.GetTempPath(), "rpg-tls-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string caFile = Path.Combine(dir, "ca.crt");
            File.WriteAllText(caFile, ca.ExportCertificatePem());
            using var otherCa = new CertificateRequest("CN=other", ECDsa.Create(ECCurve.NamedCurves.nistP256), HashAlgorithmName.SHA256)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            string otherFile = Path.Combine(dir, "other.crt");
            File.WriteAllText(otherFile, otherCa.ExportCertificatePem());

            await using var broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions { Certificate = server });
            Assert.True(TlsTrust.ChainsTo(ca, issued, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
            Assert.False(TlsTrust.ChainsTo(otherCa, issued, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
            var quick = new ResilientMqttClientOptions { MinReconnectDelay = TimeSpan.FromMilliseconds(20), MaxReconnectDelay = TimeSpan.FromMilliseconds(100) };
            await using var plain = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "plain"), quick);
            await using var untrusting = new ResilientMqttClient(new MqttEndpoint(broker.Host, broker.Port, "u") { UseTls = true, CaFile = otherFile }, quick);
            await using var trusting = new ResilientMqttClient(MqttEndpoint.TryParse($"mqtts://127.0.0.1:{broker.Port}", "t", out _)! with { CaFile = caFile }, quick);
            plain.Start();
            untrusting.Start();
            trusting.Start();
            Assert.True(await trusting.WaitConnectedAsync(Timeout), trusting.LastError);
            Assert.Equal(0, plain.Connects);
            Assert.Equal(0, untrusting.Connects);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static async Task<string> WaitError(ResilientMqttClient client)
    {
        for (int i = 0; i < 200 && client.LastError is null; i++) await Task.Delay(25);
        return client.LastError ?? "";
    }
}
