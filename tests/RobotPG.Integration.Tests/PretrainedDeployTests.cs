using System.Text.Json.Nodes;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The user's flow from desktop to robot: <c>robotpg-sim train --env balance-bot --config
/// balance-bot.sim.json</c> writes policy.rpgp, and <c>robotpg run --policy</c> drives the simulated
/// robot over MQTT with it: the same file, the same observation and action scaling, so it balances.
/// </summary>
public sealed class PretrainedDeployTests
{
    [Fact]
    public async Task A_policy_trained_with_train_env_balance_bot_balances_the_robot_under_robotpg_run()
    {
        string root = OnDeviceSetup.RepoRoot();
        string work = Path.Combine(Path.GetTempPath(), "robotpg-deploy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string shipped = Path.Combine(root, "firmware-config", "balance-bot.sim.json");
            string run = Path.Combine(work, "run");
            var trainOut = new StringWriter();
            var trainErr = new StringWriter();
            // 40 000 control steps (200 simulated s at 200 Hz, about 10 s of wall time): its deterministic evaluation balances
            // for nearly all of the 20 s episodes (3990 of 4000 reward), where 20 000 steps still falls now and then.
            int trained = SimCli.Run(["train", "--env", "balance-bot", "--config", shipped, "--physics", Path.Combine(OnDeviceSetup.PhysicsDirectory, "balance-bot.physics.json"),
                "--steps", "40000", "--seed", "1", "--out", run], trainOut, trainErr);
            Assert.True(trained == 0, trainErr.ToString());
            string policy = Path.Combine(run, "policy.rpgp");
            Assert.Contains($"wrote {policy}", trainOut.ToString());
            Assert.False(Directory.Exists(Path.Combine(run, ".learner-checkpoints"))); // only the promised files stay

            (long falls, ulong hash, long records) = await RunAsync(root, work, "trained", ["--policy", policy]);
            Assert.Equal(2000, records);        // 10 s at the config's 200 Hz, every step logged
            Assert.Equal(0, falls);             // balanced the whole time
            Assert.Equal(ControlPolicy.Load(policy, 4, 2, [64, 64], deterministic: false).Hash, hash); // and it was this file's policy

            // Control: the same run without the policy (motors off, the zero policy) falls.
            (long zeroFalls, ulong zeroHash, _) = await RunAsync(root, work, "zero", []);
            Assert.Equal(0UL, zeroHash);
            Assert.True(zeroFalls >= 1, "the unpowered robot should fall within 10 s");
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary><c>robotpg run --duration 10</c> against a lockstep simulator; returns the logged falls, the log's policy hash and record count.</summary>
    private static async Task<(long Falls, ulong Hash, long Records)> RunAsync(string root, string work, string name, string[] extra)
    {
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot",
            Seed = 11,
            Clock = SimClockMode.Lockstep,
            EmbeddedPort = 0,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
        });
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "firmware-config", "balance-bot.sim.json")))!.AsObject();
        config.Remove("$schema");
        config["bus"]!["broker"] = $"mqtt://127.0.0.1:{sim.BrokerPort}";
        string logs = Path.Combine(work, name + "-logs");
        config["log"]!["directory"] = logs;
        config["telemetry"]!["enabled"] = false;
        string configFile = Path.Combine(work, name + ".json");
        File.WriteAllText(configFile, config.ToJsonString());

        var error = new StringWriter();
        int code = await Task.Run(() => RobotPgCli.Run(["run", "--config", configFile, "--duration", "10", .. extra], new StringWriter(), error))
            .WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(code == 0, $"exit {code}: {error}");

        long falls = 0, records = 0;
        string file = Assert.Single(Directory.GetFiles(logs, "*.rpglog"));
        using var reader = TrajectoryLogReader.Open(file);
        while (reader.TryReadNext(out var r))
        {
            records++;
            if ((r.Flags & TransitionFlags.Terminated) != 0) falls++;
        }
        return (falls, reader.Header.PolicyHash, records);
    }
}
