using RobotPG.Controller.Hosting;
using RobotPG.Controller.Learning;
using RobotPG.Learning.Checkpoints;
using RobotPG.Sim.Serving;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Integration.Tests;

/// <summary>A learning controller stopped cleanly and started again with --resume keeps the batch it was collecting.</summary>
public sealed class CleanRestartTests(ITestOutputHelper log)
{
    /// <summary>
    /// Run 1 (2100 lockstep steps, 1024-step batches; seed 5 gives one update and about 500 transitions after it) stops
    /// mid-batch: its shutdown checkpoint holds the transitions since its update. Run 2 resumes and runs 1000 steps —
    /// fewer than a batch, so only a learner that kept those transitions can update in it — and updates once.
    /// </summary>
    [Fact]
    public async Task A_controller_restarted_cleanly_mid_batch_updates_after_only_the_steps_the_batch_lacked()
    {
        string work = Path.Combine(Path.GetTempPath(), "robotpg-clean-restart-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
            {
                Robot = "balance-bot", Seed = 5, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
                PhysicsDirectory = OnDeviceSetup.PhysicsDirectory, ControlRateHz = OnDeviceSetup.ControlRateHz, PublishTruth = false,
            });
            var json = OnDeviceSetup.ConfigJson("ppo", work, sim.BrokerPort);
            json["telemetry"]!["enabled"] = false;
            var config = OnDeviceSetup.Parse(json, work);
            string latest = Path.Combine(work, "checkpoints", LearnerCheckpoints.LatestName);

            using (var first = ControllerHost.Start(config, work, null, 2100 / OnDeviceSetup.ControlRateHz, TextWriter.Null))
                await Task.Run(first.WaitForExit).WaitAsync(TimeSpan.FromMinutes(2));
            CheckpointInfo saved = CheckpointFile.ReadInfo(latest);
            Assert.Equal(1, saved.UpdateCount);
            // Run 2's 1000 steps give at most 999 transitions: the batch must hold more than 25 for an update in it.
            Assert.InRange(saved.PendingTransitions, 1024 - 1000 + 1, 1023);

            var output = new StringWriter();
            using var second = ControllerHost.Start(config, work, null, 1000 / OnDeviceSetup.ControlRateHz, output, resume: true);
            // The start-up output says what the restart kept.
            Assert.Contains($"robotpg: learning: resumed from {latest} (update 1, {saved.StepCount} steps, ", output.ToString());
            Assert.Contains($"); {saved.PendingTransitions} of 1024 transitions of the batch in progress kept", output.ToString());
            await Task.Run(second.WaitForExit).WaitAsync(TimeSpan.FromMinutes(2));
            var learner = second.Learning!.Learner;
            log.WriteLine($"run 1: {saved.StepCount} steps, update {saved.UpdateCount}, {saved.PendingTransitions} transitions pending; " +
                $"run 2: {second.Loop.StepCount} loop steps, {learner.Steps - saved.StepCount} records taken, updates {learner.Updates}, batch {learner.BatchFill}");
            Assert.Equal(latest, second.Learning.ResumedFrom);
            Assert.Equal(1000, second.Loop.StepCount);
            Assert.Equal(2, learner.Updates);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // Left for the temp cleaner.
            }
        }
    }
}
