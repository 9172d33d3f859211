using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using MQTTnet.Protocol;
using RobotPG.Messaging;
using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary><c>robotpg-sim demo</c> over a broker that needs TLS and credentials, with the connection options serve, command and policy take.</summary>
public sealed class DemoOverSecureBrokerTests
{
    [Fact]
    public async Task Demo_runs_over_an_external_broker_with_its_ca_credentials_and_mqtt_3_1_1()
    {
        using var pki = new TestPki();
        await using var broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions
        {
            Port = 0, UserName = "robotpg", Password = "demo-pw", Certificate = pki.ServerCertificate,
        });
        string credentials = pki.CredentialsFile("demo.credentials", "robotpg", "demo-pw");
        string outDir = Path.Combine(pki.Directory, "demo");
        var (exit, stdout, stderr) = SecureRemoteOperationTests.Cli(DemoCommand.Create(),
        [
            "--broker", $"mqtts://127.0.0.1:{broker.Port}", "--ca-file", pki.CaFile, "--credentials", credentials, "--mqtt-version", "3.1.1",
            "--clock", "lockstep", "--from-scratch", "--duration", "2", "--json", "--out", outDir,
        ]);
        Assert.True(exit == 0, stdout + stderr);
        // 2 simulated seconds ran: the simulator and the controller met on this broker (the demo hosted none of its own).
        using var final = JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.True(final.RootElement.GetProperty("final").GetBoolean());
        Assert.Equal(2.0, final.RootElement.GetProperty("robotSimS").GetDouble(), 1);

        // The controller's config names the same files and protocol, and its retained status on this broker says it stopped cleanly.
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "robot", "balance-bot.demo.json")));
        var mqtt = config.RootElement.GetProperty("mqtt");
        Assert.Equal($"mqtts://127.0.0.1:{broker.Port}", config.RootElement.GetProperty("bus").GetProperty("broker").GetString());
        Assert.Equal("3.1.1", mqtt.GetProperty("protocolVersion").GetString());
        Assert.Equal(pki.CaFile, mqtt.GetProperty("caFile").GetString());
        Assert.Equal(credentials, mqtt.GetProperty("credentialsFile").GetString());
        Assert.DoesNotContain("demo-pw", File.ReadAllText(Path.Combine(outDir, "robot", "balance-bot.demo.json")) + stdout + stderr);

        var statuses = new BlockingCollection<string>();
        await using var desk = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", broker.Port, "desk", "robotpg", "demo-pw") { UseTls = true, CaFile = pki.CaFile });
        await desk.SubscribeAsync("robotpg/balance-bot/status", (string t, in ReadOnlySequence<byte> p) => statuses.Add(System.Text.Encoding.UTF8.GetString(p.ToArray())), MqttQualityOfServiceLevel.AtLeastOnce);
        desk.Start();
        Assert.True(await desk.WaitConnectedAsync(TimeSpan.FromSeconds(20)), desk.LastError);
        Assert.True(statuses.TryTake(out string? status, TimeSpan.FromSeconds(20)), "no retained status");
        using var parsed = JsonDocument.Parse(status!);
        Assert.Equal("stopped", parsed.RootElement.GetProperty("state").GetString());
    }
}
