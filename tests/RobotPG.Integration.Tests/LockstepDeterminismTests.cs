using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Logging;
using RobotPG.Sim.Devices;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// A lockstep run over MQTT is a function of its seeds, not of the network or the machine's load: the controller learning
/// on the simulated balance-bot (episodes ending and reset, PPO updates swapped in) logs the same trajectory, bit for bit,
/// whether or not the link loses frames, and whether or not a tick takes longer than the controller's lockstep wait. A
/// lost sensor frame is said again by the simulator; a lost answer is sent again by the controller without a second
/// control step; the episode reset rides in an actuator frame, so it lands at the same tick whatever the timing; a wait
/// that runs out is no control step (it once was: a step on the old tick, which made one CI run diverge at record 901
/// when the test host's thread pool stalled the round trip for over a second).
/// </summary>
public sealed class LockstepDeterminismTests
{
    private sealed record Record(long Step, float[] Observation, float[] Action, float LogProb, float Reward, TransitionFlags Flags);

    private sealed record Run(List<Record> Records, long Updates, long Episodes, long Dropped, long Resent, long Republished, long ResetsRequested, long MissedPeriods, long StaleTrips, long SilentWaits);

    /// <param name="stallAt">A tick at which the simulator stalls (holding its lock) until the controller's lockstep wait
    /// for the next tick has run out once: a simulator or round trip slower than that wait (a loaded machine).</param>
    private static async Task<Run> RunAsync(string work, SimFault[] faults, ulong? stallAt = null)
    {
        Directory.CreateDirectory(work);
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", Seed = 21, Clock = SimClockMode.Lockstep, EmbeddedPort = 0,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory, ControlRateHz = OnDeviceSetup.ControlRateHz, PublishTruth = false,
            // A lost frame costs this much wall time, none of robot time.
            LockstepRepublish = TimeSpan.FromMilliseconds(20),
            Faults = faults,
        });
        ControlLoop? loop = null;
        bool stallEnded = true;
        if (stallAt is ulong at)
        {
            stallEnded = false;
            sim.TickPublished += tick =>
            {
                if (tick == at) stallEnded = SpinWait.SpinUntil(() => Volatile.Read(ref loop)?.SilentWaits > 0, TimeSpan.FromSeconds(30));
            };
        }
        var json = OnDeviceSetup.ConfigJson("ppo", work, sim.BrokerPort, batchSteps: 256);
        json["telemetry"]!["enabled"] = false;
        var config = OnDeviceSetup.Parse(json, work);

        // 30 robot seconds at 50 Hz: 1,500 steps, 5 updates, a few dozen falls of the untrained policy.
        using (var host = ControllerHost.Start(config, work, null, 30, TextWriter.Null))
        {
            Volatile.Write(ref loop, host.Loop);
            await Task.Run(host.WaitForExit).WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(stallEnded, "the controller's lockstep wait never ran out during the stall");
            var robot = Assert.IsType<SimRobotConnection>(host.Robot);
            var records = new List<Record>();
            foreach (string file in Directory.GetFiles(Path.Combine(work, "logs"), "*" + TrajectoryLogFormat.FileExtension).Order(StringComparer.Ordinal))
            {
                using var reader = TrajectoryLogReader.Open(file);
                while (reader.TryReadNext(out var r))
                    records.Add(new Record(r.Step, [.. r.Observation], [.. r.Action], r.LogProb, r.Reward, r.Flags));
            }
            return new Run(records, host.Learning!.Learner.Updates, host.Loop.Counters.Episodes, sim.Link?.Dropped ?? 0,
                robot.Bus.ResentFrames, robot.Bus.RepublishedFrames, robot.Bus.ResetsRequested,
                host.Loop.Counters.MissedPeriods, host.Loop.Safety.Events(RobotPG.Controller.Control.SafetyCause.StaleSensor), host.Loop.SilentWaits);
        }
    }

    private static void Compare(Run clean, Run other, string name)
    {
        Assert.Equal(clean.Records.Count, other.Records.Count);
        for (int i = 0; i < clean.Records.Count; i++)
        {
            var a = clean.Records[i];
            var b = other.Records[i];
            string at = $"record {i} (step {a.Step}, flags {a.Flags}; clean {clean with { Records = [] }}, {name} {other with { Records = [] }})";
            Assert.True(a.Step == b.Step && a.Flags == b.Flags, $"{at}: {name} run has step {b.Step}, flags {b.Flags}");
            Assert.True(a.Observation.AsSpan().SequenceEqual(b.Observation), $"{at}: observation differs");
            Assert.True(a.Action.AsSpan().SequenceEqual(b.Action) && a.LogProb.Equals(b.LogProb), $"{at}: action differs");
            Assert.True(a.Reward.Equals(b.Reward), $"{at}: reward differs");
        }
        Assert.Equal(clean.Updates, other.Updates);
    }

    [Fact]
    public async Task A_learning_run_logs_the_same_trajectory_bit_for_bit_when_the_link_loses_frames()
    {
        string root = Path.Combine(Path.GetTempPath(), "robotpg-lockstep-determinism-" + Guid.NewGuid().ToString("N"));
        try
        {
            var clean = await RunAsync(Path.Combine(root, "clean"), []);
            var lossy = await RunAsync(Path.Combine(root, "lossy"), [SimFault.TryParse("mqtt-drop:p=0.02", out _)!]);
            var stalled = await RunAsync(Path.Combine(root, "stalled"), [], stallAt: 700);
            // The stall outlasted the lockstep wait, and was no safety event (it is shorter than the stale limit).
            Assert.True(stalled.SilentWaits >= 1 && stalled.StaleTrips == 0, $"stalled {stalled with { Records = [] }}");
            Compare(clean, stalled, "stalled");

            // The faults happened, both ways, and the run did what makes it worth comparing.
            Assert.True(lossy.Dropped >= 10, $"{lossy.Dropped} frames dropped");
            Assert.True(lossy.Resent > 0, "no answer was lost and sent again");
            Assert.True(clean.Episodes >= 5 && clean.Updates >= 4, $"{clean.Episodes} episodes, {clean.Updates} updates");
            Assert.Equal(clean.Episodes, clean.ResetsRequested); // each fall asked the sim for a reset once (no retries needed)

            Assert.Equal(1500, clean.Records.Count);
            Compare(clean, lossy, "lossy");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
