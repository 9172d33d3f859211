using System.Globalization;
using RobotPG.Sim.Fleet;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Integration.Tests;

/// <summary>
/// Fleet learning on a real mosquitto: two domain-randomised simulated robots (the controller's loop and
/// fleet side, lockstep) and two learners sharing the rollouts through <c>$share/learners/...</c>. Learner 0
/// is killed a third of the way; the other carries on, and the fleet still learns to balance.
/// </summary>
public sealed class FleetLearningTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Two_robots_and_two_learners_learn_to_balance_through_a_learner_failover()
    {
        await using var mosquitto = await MosquittoBroker.StartAsync(TimeSpan.FromSeconds(20));
        string dir = Directory.CreateTempSubdirectory("robotpg-fleet-").FullName;
        var progress = new StringWriter();
        var result = await new FleetRun(new FleetRunOptions
        {
            Broker = $"mqtt://{mosquitto.Host}:{mosquitto.Port}",
            Robots = 2,
            Learners = 2,
            OutputDirectory = dir,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
            // From ~0.3 s episodes of the untrained policy to a mean of 5 s of balance (the cap is 10 s).
            BalancedFraction = 0.5,
            MaxStepsPerRobot = 150_000,
            KillLearnerAtStepsPerRobot = 8_000,
            Progress = progress,
        }).RunAsync();
        log.WriteLine(progress.ToString());

        Assert.True(result.LearnerKilled[0]);
        Assert.True(result.Balanced, $"mean episode {result.FleetMeanEpisodeLength} steps after {result.RobotSteps} steps");
        // Learner 1 carried on after the kill: the robots run versions made after it.
        Assert.All(result.RobotVersions, v => Assert.True(v > result.VersionAtKill + 1, $"robot on v{v}, v{result.VersionAtKill} at the kill"));
        Assert.All(result.RobotSwaps, s => Assert.True(s >= 3));
        Assert.True(result.ConsumedPerLearner[1] > result.ConsumedPerLearner[0]);
        // Every batch the broker acknowledged (QoS 1) was learned from or counted stale; none lost on the robots.
        Assert.True(result.BatchesAcknowledged > 100);
        Assert.Equal(0, result.BatchesLostOnRobots);
        Assert.Equal(0, result.BatchesMalformed);
        Assert.Equal(0, result.BatchesAbandoned);
        Assert.Equal(result.BatchesAcknowledged, result.BatchesConsumed + result.BatchesStale);

        // One curve per robot and the fleet's; each robot's last episode ran a version no newer than the one it
        // ended on (several broadcasts can land inside one episode, so not necessarily the one just before).
        for (int r = 0; r < 2; r++)
        {
            string[] rows = File.ReadAllLines(Path.Combine(dir, $"curve-fleet-sim-{r}.csv"));
            Assert.Equal("robot_steps,robot_s,return,length_steps,policy_version,wall_s", rows[0]);
            Assert.True(rows.Length > 20);
            ulong lastVersion = ulong.Parse(rows[^1].Split(',')[4], CultureInfo.InvariantCulture);
            Assert.InRange(lastVersion, 1UL, result.RobotVersions[r]);
        }
        Assert.Equal(result.Episodes.Count + 1, File.ReadAllLines(Path.Combine(dir, "curve-fleet.csv")).Length);
        Directory.Delete(dir, recursive: true);
    }
}
