using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>A killed controller process turns its retained status offline through the broker's last will; a clean stop says "stopped".</summary>
[Collection("mosquitto")]
public sealed class StatusLastWillTests
{
    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln"))) dir = dir.Parent;
        return dir!.FullName;
    }

    [Theory]
    [InlineData("mosquitto")]
    [InlineData("embedded")]
    public async Task Status_turns_offline_within_the_keep_alive_when_the_controller_is_killed(string brokerKind)
    {
        string controllerDll = Path.Combine(AppContext.BaseDirectory, "robotpg.dll");
        Assert.True(File.Exists(controllerDll), controllerDll);
        using var pki = new TestPki();
        using var key = OperatorKey.Generate();
        await using var broker = brokerKind == "mosquitto" ? await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(10)) : null;
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", RobotId = "balance-bot", Seed = 6, Clock = SimClockMode.Lockstep,
            Broker = broker is null ? null : new MqttEndpoint(broker.Host, broker.Port, "robotpg-sim"),
            EmbeddedPort = 0,
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
        });
        int port = broker?.Port ?? sim.BrokerPort;
        // Keep-alive 1 s: mosquitto gives up on a silent client after 1.5 keep-alives and publishes its will.
        SecureRemoteOperationTests.Config(pki.Directory, $"mqtt://127.0.0.1:{port}", new JsonObject { ["keepAliveSeconds"] = 1 },
            pki.Write("operator.pub.pem", key.PublicKeyPem));
        await using var desk = await SecureRemoteOperationTests.OperatorDesk.StartAsync(new MqttEndpoint("127.0.0.1", port, "desk"));

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { controllerDll, "run", "--config", Path.Combine(pki.Directory, "robot.json") }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        try
        {
            var online = desk.StatusWhere(s => s.GetProperty("state").GetString() == "online");
            Assert.Equal("ok", online.GetProperty("safety").GetString());
            process.Kill(); // SIGKILL: no clean disconnect, no "stopped" status
            await process.WaitForExitAsync();
            var offline = desk.StatusWhere(s => s.GetProperty("state").GetString() != "online");
            Assert.Equal("offline", offline.GetProperty("state").GetString());
            Assert.Equal("balance-bot", offline.GetProperty("robotId").GetString());
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }
}
