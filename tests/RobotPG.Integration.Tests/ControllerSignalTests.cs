using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
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
            // A policy that drives the motors (zero mean, σ = 0.5): without a checkpoint the controller runs the
            // zero policy, whose motors are off anyway and would make "off after SIGTERM" prove nothing.
            var network = new GaussianPolicy(4, 2, [64, 64], maxBatch: 1, seed: 3);
            network.Parameters.Clear();
            network.LogStd.Fill(MathF.Log(0.5f));
            string checkpoint = Path.Combine(work, "noise.ckpt");
            CheckpointFile.Save(checkpoint, new TrainingState { Policy = network, Tag = "noise" });

            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "firmware-config", "balance-bot.sim.json")))!.AsObject();
            config.Remove("$schema");
            config["bus"]!["broker"] = $"mqtt://127.0.0.1:{sim.BrokerPort}";
            config["log"]!["directory"] = Path.Combine(work, "logs");
            // The sim freezes a fallen robot at its 40° limit. A tilt limit past that keeps the supervisor from
            // tripping, so the policy drives the motors up to the last step and "off" afterwards can only be the
            // shutdown's doing (a tripped supervisor would have zeroed them already).
            config["safety"]!["tiltLimitDeg"] = 60;
            config["policy"]!["checkpoint"] = checkpoint;
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
            TransitionFlags lastFlags = TransitionFlags.None;
            float[] lastAction = [];
            while (reader.TryReadNext(out TrajectoryRecord record))
            {
                records++;
                lastFlags = record.Flags;
                lastAction = record.Action.ToArray();
            }
            Assert.Equal(steps, records);
            Assert.Equal(0, reader.TornTailBytes);
            // The last step before the signal drove the motors (its action, as sent, is not zero and the
            // supervisor was not holding them off), so the zero registers below were written by the shutdown.
            Assert.Equal(TransitionFlags.None, lastFlags & TransitionFlags.SafetyStop);
            Assert.Contains(lastAction, a => a != 0f);
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
