using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RobotPG.Controller.Logging;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>SIGTERM to a running <c>robotpg run</c> process: motors off, log flushed, exit code 0.</summary>
public sealed class ControllerSignalTests
{
    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir!.FullName;
    }

    [Fact]
    public async Task Sigterm_stops_the_motors_flushes_every_step_to_the_log_and_exits_0()
    {
        string root = RepoRoot();
        string controllerDll = Path.Combine(AppContext.BaseDirectory, "robotpg.dll");
        Assert.True(File.Exists(controllerDll), controllerDll);
        string work = Path.Combine(Path.GetTempPath(), "robotpg-sigterm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        Process? process = null;
        try
        {
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot", Seed = 5, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
                PhysicsDirectory = Path.Combine(root, "firmware-config", "robots"),
            });
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "firmware-config", "balance-bot.sim.json")))!.AsObject();
            config.Remove("$schema");
            config["bus"]!["broker"] = $"mqtt://127.0.0.1:{sim.BrokerPort}";
            config["log"]!["directory"] = Path.Combine(work, "logs");
            string configFile = Path.Combine(work, "robot.json");
            File.WriteAllText(configFile, config.ToJsonString());

            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var watcher = new ResilientMqttClient(new MqttEndpoint("127.0.0.1", sim.BrokerPort, "sigterm-watcher"));
            watcher.Start();
            Assert.True(await watcher.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
            await watcher.SubscribeAsync("robotpg/balance-bot/telemetry/controller", (string topic, in ReadOnlySequence<byte> payload) => running.TrySetResult());

            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(controllerDll);
            start.ArgumentList.Add("run");
            start.ArgumentList.Add("--config");
            start.ArgumentList.Add(configFile);
            process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();

            await running.Task.WaitAsync(TimeSpan.FromSeconds(30)); // the loop runs and telemetry flows
            // The stochastic policy drives the motors: wait until the sim's PCA9685 shows a duty, so that "off"
            // afterwards is the shutdown's doing and not the state the robot happened to be in.
            var waited = Stopwatch.StartNew();
            bool driven = false;
            while (!driven && waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                driven = sim.Inspect(r => r.Pca9685!.DutyCycle(0) > 0 || r.Pca9685!.DutyCycle(1) > 0);
                if (!driven) await Task.Delay(2);
            }
            Assert.True(driven, "the motors were never driven");
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

            string output = await stdout;
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await stderr}");
            var match = Regex.Match(output, @"stopped after (\d+) steps, \d+ episodes, (\d+) records logged");
            Assert.True(match.Success, output);
            long steps = long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(steps > 0);
            Assert.Equal(steps, long.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));

            using var reader = TrajectoryLogReader.Open(Assert.Single(Directory.GetFiles(Path.Combine(work, "logs"), "*.rpglog")));
            long records = 0;
            while (reader.TryReadNext(out _))
                records++;
            Assert.Equal(steps, records);
            Assert.Equal(0, reader.TornTailBytes);
            // Motors off in the sim's own registers and pins: PWM duty 0 and both direction pins low, each motor.
            Assert.Equal(0.0, sim.Inspect(r => r.Pca9685!.DutyCycle(0)));
            Assert.Equal(0.0, sim.Inspect(r => r.Pca9685!.DutyCycle(1)));
            foreach (int pin in new[] { 5, 6, 20, 21 })
                Assert.False(sim.Inspect(r => r.PinLevel(pin)), $"direction pin {pin} left high");
        }
        finally
        {
            if (process is { HasExited: false })
                process.Kill();
            process?.Dispose();
            Directory.Delete(work, recursive: true);
        }
    }
}
