using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using MQTTnet.Protocol;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// A real mosquitto with TLS (CA, server and client certificates made in the test), mutual TLS, a password
/// file made by mosquitto_passwd, the shipped firmware-config/mosquitto/mosquitto.conf and its ACL.
/// </summary>
[Collection("mosquitto")]
public sealed class SecureConnectionTests
{
    private static string ShippedMosquittoFile(string name, [CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln"))) dir = dir.Parent;
        return Path.Combine(dir!.FullName, "firmware-config", "mosquitto", name);
    }

    /// <summary>
    /// The shipped firmware-config/mosquitto/mosquitto.conf itself on a loopback test port, its files in
    /// /etc/mosquitto/robotpg/ and /var/lib/mosquitto/ replaced by the test's (the ACL is the shipped one), plus
    /// <c>user root</c>: the test's files are root's 0600 ones, where the Pi's belong to the mosquitto user.
    /// </summary>
    internal static Func<int, string> ShippedConfig(TestPki pki, string passwordFile) => port =>
    {
        string config = string.Join('\n', File.ReadAllLines(ShippedMosquittoFile("mosquitto.conf")).Where(line => !line.TrimStart().StartsWith('#')));
        Assert.Contains("\nlistener 8883\n", config);
        config = config.Replace("\nlistener 8883\n", $"\nlistener {port} 127.0.0.1\n", StringComparison.Ordinal)
            .Replace("/etc/mosquitto/robotpg/passwd", passwordFile, StringComparison.Ordinal)
            .Replace("/etc/mosquitto/robotpg/acl", ShippedMosquittoFile("acl"), StringComparison.Ordinal)
            .Replace("/etc/mosquitto/robotpg/ca.crt", pki.CaFile, StringComparison.Ordinal)
            .Replace("/etc/mosquitto/robotpg/server.crt", pki.ServerCertFile, StringComparison.Ordinal)
            .Replace("/etc/mosquitto/robotpg/server.key", pki.ServerKeyFile, StringComparison.Ordinal)
            .Replace("/var/lib/mosquitto/", pki.Directory + "/", StringComparison.Ordinal);
        // A file the shipped config names that the test did not replace would test the machine's, not the shipped setup.
        Assert.DoesNotContain("/etc/", config);
        Assert.DoesNotContain("/var/", config);
        return config + "\nuser root\n";
    };

    internal static MqttEndpoint Endpoint(TestPki pki, int port, string clientId, string? credentials, (string Cert, string Key)? client, MqttProtocol protocol = MqttProtocol.V5)
    {
        var (user, password) = credentials is null ? ((string?)null, (string?)null) : MqttCredentials.Load(credentials);
        return new MqttEndpoint("127.0.0.1", port, clientId, user, password)
        {
            UseTls = true,
            CaFile = pki.CaFile,
            ClientCertificateFile = client?.Cert,
            ClientKeyFile = client?.Key,
            Protocol = protocol,
        };
    }

    private static readonly ResilientMqttClientOptions Quick = new()
    {
        MinReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        KeepAlive = TimeSpan.FromSeconds(2),
    };

    [Fact]
    public async Task Anonymous_and_untrusted_clients_are_refused_and_the_acl_limits_what_credentials_may_publish()
    {
        using var pki = new TestPki();
        string passwd = pki.PasswordFile(("operator", "op-secret"), ("bb-1", "robot-secret"), ("bb-2", "robot2-secret"), ("sim", "sim-secret"));
        var client = pki.Issue("client");
        string operatorCredentials = pki.CredentialsFile("operator.credentials", "operator", "op-secret");
        string robotCredentials = pki.CredentialsFile("bb-1.credentials", "bb-1", "robot-secret");
        await using var broker = await MosquittoBroker.StartWithConfigAsync(TimeSpan.FromSeconds(10), ShippedConfig(pki, passwd));

        // No credentials (but a valid certificate): refused by allow_anonymous false.
        await using (var anonymous = new ResilientMqttClient(Endpoint(pki, broker.Port, "anon", null, (client.CertFile, client.KeyFile)), Quick))
        {
            anonymous.Start();
            Assert.False(await anonymous.WaitConnectedAsync(TimeSpan.FromSeconds(6)));
            Assert.True(anonymous.LastError?.Contains("NotAuthorized") == true, anonymous.LastError);
        }
        // Credentials but no client certificate: mutual TLS refuses the handshake.
        await using (var noCert = new ResilientMqttClient(Endpoint(pki, broker.Port, "nocert", operatorCredentials, null), Quick))
        {
            noCert.Start();
            Assert.False(await noCert.WaitConnectedAsync(TimeSpan.FromSeconds(2)));
        }
        // A broker certificate from another CA is not trusted by the client.
        using (var other = new TestPki())
        await using (var wrongCa = new ResilientMqttClient(Endpoint(other, broker.Port, "wrongca", operatorCredentials, (client.CertFile, client.KeyFile)), Quick))
        {
            wrongCa.Start();
            Assert.False(await wrongCa.WaitConnectedAsync(TimeSpan.FromSeconds(2)));
        }

        // Who may write what: a subscriber for the robot's commands (the robot itself) and one for its actuator frames
        // (the simulator). Every refused publication goes out first and is acknowledged by the broker before the one
        // allowed publication on that topic, which mosquitto would otherwise have delivered after them.
        var robotGot = new List<string>();
        var simGot = new List<string>();
        var commandArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var frameArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var robot = new ResilientMqttClient(Endpoint(pki, broker.Port, "bb-1", robotCredentials, (client.CertFile, client.KeyFile)), Quick);
        await robot.SubscribeAsync("robotpg/bb-1/cmd/#", (string topic, in ReadOnlySequence<byte> p) =>
        {
            lock (robotGot) robotGot.Add(topic + "=" + Encoding.UTF8.GetString(p));
            if (topic.EndsWith("/estop", StringComparison.Ordinal)) commandArrived.TrySetResult();
        }, MqttQualityOfServiceLevel.AtLeastOnce);
        robot.Start();
        Assert.True(await robot.WaitConnectedAsync(TimeSpan.FromSeconds(10)), robot.LastError);
        await using var sim = new ResilientMqttClient(Endpoint(pki, broker.Port, "sim", pki.CredentialsFile("sim.credentials", "sim", "sim-secret"), (client.CertFile, client.KeyFile)), Quick);
        await sim.SubscribeAsync("robotpg/bb-1/sim/actuators", (string topic, in ReadOnlySequence<byte> p) =>
        {
            lock (simGot) simGot.Add(Encoding.UTF8.GetString(p));
            if (p.ToArray() is [(byte)'m', ..]) frameArrived.TrySetResult();
        }, MqttQualityOfServiceLevel.AtLeastOnce);
        sim.Start();
        Assert.True(await sim.WaitConnectedAsync(TimeSpan.FromSeconds(10)), sim.LastError);
        await using var otherRobot = new ResilientMqttClient(Endpoint(pki, broker.Port, "bb-2", pki.CredentialsFile("bb-2.credentials", "bb-2", "robot2-secret"), (client.CertFile, client.KeyFile)), Quick);
        otherRobot.Start();
        Assert.True(await otherRobot.WaitConnectedAsync(TimeSpan.FromSeconds(10)), otherRobot.LastError);
        // 3.1.1 works too, with the same credentials.
        await using var op = new ResilientMqttClient(Endpoint(pki, broker.Port, "operator-1", operatorCredentials, (client.CertFile, client.KeyFile), MqttProtocol.V311), Quick);
        op.Start();
        Assert.True(await op.WaitConnectedAsync(TimeSpan.FromSeconds(10)), op.LastError);

        // Refused: the operator forging actuator frames; another robot writing bb-1's frames or commands; the robot
        // commanding itself; the simulator (which writes sensor frames) writing actuator frames or commands.
        Assert.True(op.TryPublish("robotpg/bb-1/sim/actuators", "forged by operator"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(otherRobot.TryPublish("robotpg/bb-1/sim/actuators", "forged by bb-2"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(otherRobot.TryPublish("robotpg/bb-1/cmd/stop", "from bb-2"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(robot.TryPublish("robotpg/bb-1/cmd/clear-estop", "from bb-1"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(sim.TryPublish("robotpg/bb-1/sim/actuators", "forged by sim"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(sim.TryPublish("robotpg/bb-1/cmd/clear-estop", "from sim"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        foreach (var c in new[] { op, otherRobot, robot, sim }) Assert.True(await c.FlushAsync(TimeSpan.FromSeconds(10)));
        // Allowed: the operator's command, the robot's own actuator frame.
        Assert.True(op.TryPublish("robotpg/bb-1/cmd/estop", "{}"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(robot.TryPublish("robotpg/bb-1/sim/actuators", "mine"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        await commandArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await frameArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        lock (robotGot) Assert.Equal(["robotpg/bb-1/cmd/estop={}"], robotGot);
        lock (simGot) Assert.Equal(["mine"], simGot);

        // A robot may not write another robot's status either.
        await using var watcher = new ResilientMqttClient(Endpoint(pki, broker.Port, "watcher", pki.CredentialsFile("w", "operator", "op-secret"), (client.CertFile, client.KeyFile)), Quick);
        var watched = new List<string>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await watcher.SubscribeAsync("robotpg/+/status", (string topic, in ReadOnlySequence<byte> p) =>
        {
            lock (watched) watched.Add(topic + "=" + Encoding.UTF8.GetString(p));
            if (topic == "robotpg/bb-1/status") done.TrySetResult();
        }, MqttQualityOfServiceLevel.AtLeastOnce);
        watcher.Start();
        Assert.True(await watcher.WaitConnectedAsync(TimeSpan.FromSeconds(10)), watcher.LastError);
        Assert.True(robot.TryPublish("robotpg/bb-2/status", "fake"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        Assert.True(await robot.FlushAsync(TimeSpan.FromSeconds(10)));
        Assert.True(robot.TryPublish("robotpg/bb-1/status", "mine"u8, MqttQualityOfServiceLevel.AtLeastOnce));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        lock (watched) Assert.Equal(["robotpg/bb-1/status=mine"], watched);
    }
}

[CollectionDefinition("mosquitto")]
public sealed class MosquittoCollection;
