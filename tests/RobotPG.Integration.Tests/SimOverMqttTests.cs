using System.Diagnostics;
using System.Text.Json;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>The simulator as an MQTT peer, against the embedded broker and a real mosquitto.</summary>
public class SimOverMqttTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static async Task<ulong> LockstepHashAsync(ulong seed, int steps, string robotId, MqttEndpoint? broker)
    {
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions { RobotId = robotId, Seed = seed, Broker = broker });
        var endpoint = new MqttEndpoint(server.BrokerHost, server.BrokerPort, "stub-" + robotId);
        await using var stub = await SimStubController.ConnectAsync(endpoint, robotId, StubPolicies.FollowLean, stepLimit: steps);
        Assert.True(await stub.WaitForStepsAsync(steps, Timeout), $"lockstep stalled at {stub.Steps} of {steps}");
        Assert.Equal((ulong)(steps - 1), stub.LastSequence);
        Assert.Equal(0, server.ActuatorFrames.Dropped - server.ActuatorFrames.OutOfOrder);
        return stub.SensorHash;
    }

    [Fact]
    public async Task LockstepIsBitIdenticalThroughMosquittoAndTheEmbeddedBroker()
    {
        await using var mosquitto = await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(20));
        var external = new MqttEndpoint(mosquitto.Host, mosquitto.Port, "robotpg-sim-interop");
        ulong first = await LockstepHashAsync(11, 300, "bb-mosq-1", external);
        ulong second = await LockstepHashAsync(11, 300, "bb-mosq-2", external with { ClientId = "robotpg-sim-interop-2" });
        ulong embedded = await LockstepHashAsync(11, 300, "bb-emb", null);
        ulong otherSeed = await LockstepHashAsync(12, 300, "bb-mosq-3", external with { ClientId = "robotpg-sim-interop-3" });
        Assert.Equal(first, second);
        Assert.Equal(first, embedded); // the broker is transport only
        Assert.NotEqual(first, otherSeed);
    }

    [Fact]
    public async Task MosquittoSubReadsTheSimTelemetryJson()
    {
        string mosquittoSub = MosquittoBroker.FindExecutable("mosquitto_sub")
            ?? throw new InvalidOperationException("mosquitto_sub is not installed: apt-get install -y mosquitto-clients (.ci/run does)");
        await using var server = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            RobotId = "bb-telemetry", Clock = SimClockMode.Realtime, StatusPeriod = TimeSpan.FromMilliseconds(100),
        });
        var info = new ProcessStartInfo(mosquittoSub,
            ["-h", server.BrokerHost, "-p", server.BrokerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "-V", "mqttv5", "-t", "robotpg/bb-telemetry/telemetry/#", "-C", "1", "-W", "30"])
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(Timeout);
        await process.WaitForExitAsync(cancel.Token);
        Assert.True(process.ExitCode == 0, $"mosquitto_sub exited {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
        using var json = JsonDocument.Parse(await output);
        Assert.Equal("bb-telemetry", json.RootElement.GetProperty("robotId").GetString());
        Assert.Equal("balance-bot", json.RootElement.GetProperty("robot").GetString());
        Assert.Equal("realtime", json.RootElement.GetProperty("clock").GetString());
        Assert.True(json.RootElement.GetProperty("tick").GetUInt64() > 0);
    }
}
