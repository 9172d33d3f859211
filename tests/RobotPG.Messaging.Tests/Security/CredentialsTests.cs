using RobotPG.Messaging.Security;
using Xunit;

namespace RobotPG.Messaging.Tests.Security;

public class CredentialsTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void CredentialsFileIsReadOnlyWhenPrivateAndErrorsNeverShowTheSecret()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rpg-cred-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "bb.credentials");
            File.WriteAllText(path, "# robot bb\nusername=bb\npassword= p=ss word\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Equal(("bb", "p=ss word"), MqttCredentials.Load(path));

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            var e = Assert.Throws<InvalidDataException>(() => MqttCredentials.Load(path));
            Assert.Contains("chmod 600", e.Message);

            File.WriteAllText(path, "username=bb\nsecrettypo hunter2\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            e = Assert.Throws<InvalidDataException>(() => MqttCredentials.Load(path));
            Assert.Contains(":2:", e.Message);
            Assert.DoesNotContain("hunter2", e.Message);

            File.WriteAllText(path, "username=bb\n");
            Assert.Contains("no password", Assert.Throws<InvalidDataException>(() => MqttCredentials.Load(path)).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("mqtts://broker.lan", "broker.lan", 8883, true)]
    [InlineData("mqtts://broker.lan:9000", "broker.lan", 9000, true)]
    [InlineData("mqtt://[::1]:1884", "::1", 1884, false)]
    public void SecureAddressesParse(string text, string host, int port, bool tls)
    {
        var endpoint = MqttEndpoint.TryParse(text, "c", out var error)!;
        Assert.Null(error);
        Assert.Equal((host, port, tls), (endpoint.Host, endpoint.Port, endpoint.UseTls));
        Assert.Equal(MqttProtocol.V5, endpoint.Protocol);
    }

    [Fact]
    public void EndpointTextNeverHoldsThePassword()
    {
        var endpoint = new MqttEndpoint("h", 1, "c", "user", "hunter2");
        Assert.DoesNotContain("hunter2", endpoint.ToString());
        Assert.DoesNotContain("hunter2", $"{endpoint}");
    }
}
