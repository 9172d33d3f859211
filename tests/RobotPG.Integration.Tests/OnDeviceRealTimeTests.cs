using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Sim.Serving;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Integration.Tests;

/// <summary>A timing measurement: runs alone, after the parallel tests, so that it does not share the two cores with them.</summary>
[CollectionDefinition(nameof(OnDeviceRealTimeTests), DisableParallelization = true)]
public sealed class OnDeviceRealTimeCollection;

/// <summary>
/// The loop keeps running and allocates nothing while the learner updates next to it on the wall
/// clock (issue 7 §1, Verify). Timing-sensitive, so it is a measurement run on demand
/// (<c>--filter Category=RealTime</c>) on a quiet machine, not part of the CI suite: on a loaded 2-core
/// machine the simulator's real-time ticks stall, the sim-backed bus reports faults, and the fault
/// path allocates its exceptions. The period error it prints is a figure for the README, never asserted.
/// </summary>
[Collection(nameof(OnDeviceRealTimeTests))]
[Trait("Category", "RealTime")]
public sealed class OnDeviceRealTimeTests(ITestOutputHelper log)
{
    private static string NewWork()
    {
        string path = Path.Combine(Path.GetTempPath(), "robotpg-ondevice-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public async Task In_real_time_the_loop_keeps_its_period_and_allocates_nothing_while_the_learner_updates()
    {
        const double rate = 100;
        string work = NewWork();
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", Seed = 8, Clock = SimClockMode.Realtime, EmbeddedPort = 0,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory, ControlRateHz = rate, PublishTruth = false,
        });
        var json = OnDeviceSetup.ConfigJson("ppo", work, sim.BrokerPort, batchSteps: 256);
        json["controlRateHz"] = rate;
        json["task"]!["maxEpisodeSteps"] = 1000;
        json["bus"]!["clock"] = "realtime";
        json["learning"]!["resetUprightDeg"] = 15;
        json["learning"]!["resetStillRadPerS"] = 3;
        json["learning"]!["checkpointEveryUpdates"] = 0;
        string configFile = Path.Combine(work, "robot.json");
        File.WriteAllText(configFile, json.ToJsonString());
        var config = ConfigLoader.Load(configFile).Config!;

        // 25 s at 100 Hz; the loop's allocation count starts after its first 1000 steps.
        using var host = ControllerHost.Start(config, work, null, 25, TextWriter.Null);
        await Task.Run(host.WaitForExit).WaitAsync(TimeSpan.FromSeconds(40));
        var loop = host.Loop;
        var learner = host.Learning!.Learner;
        double p50 = loop.PeriodError.Percentile(0.5), p99 = loop.PeriodError.Percentile(0.99);
        log.WriteLine($"{loop.StepCount} steps, {learner.Updates} updates ({learner.Rollbacks} rollbacks), {learner.Episodes} episodes; " +
            $"period error p50 {p50} µs, p99 {p99} µs, max {loop.PeriodError.MaxMicroseconds:F0} µs, {loop.Counters.Overruns} overruns; " +
            $"loop allocated {loop.AllocatedBytesAfterWarmup} B over {loop.StepsMeasured} steps; bus faults {loop.Counters.BusFaults}, software faults {loop.Counters.SoftwareFaults}, " +
            $"stale-sensor trips {loop.Safety.Events(SafetyCause.StaleSensor)}, tilt trips {loop.Safety.Events(SafetyCause.Tilt)}");
        Assert.True(learner.Updates >= 3, $"{learner.Updates} updates ran next to the loop");
        Assert.True(loop.StepsMeasured >= 1400);
        Assert.Equal(0, loop.AllocatedBytesAfterWarmup);
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
