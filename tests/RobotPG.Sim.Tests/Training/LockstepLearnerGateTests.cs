using System.Diagnostics;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Serving;
using RobotPG.Sim.Tests.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

/// <summary>
/// Lockstep with the learner on its own thread, as the controller runs it over MQTT: the loop waits at the learner's
/// gate, so how fast the learner thread is (the machine's load) changes nothing in what the robot learns.
/// </summary>
public sealed class LockstepLearnerGateTests
{
    private const long Steps = 4000;

    /// <summary>The learner's reports, and a slow learner: each update takes <paramref name="delay"/> more before its policy is published.</summary>
    private sealed class Recorder(TimeSpan delay) : ILearningObserver
    {
        public List<LearnerUpdate> Updates { get; } = [];
        public List<LearnerRollback> Rollbacks { get; } = [];

        public void OnUpdate(in LearnerUpdate update)
        {
            // Wall-clock figures differ by nature; everything else must not.
            Updates.Add(update with { DurationMs = 0, LoopTimeNs = 0 });
            if (delay > TimeSpan.Zero) Thread.Sleep(delay);
        }

        public void OnRollback(in LearnerRollback rollback) => Rollbacks.Add(rollback with { LoopTimeNs = 0 });
        public void OnEpisode(long episode, double episodeReturn, int length) { }
        public void OnWarning(string message) { }
    }

    /// <summary>An in-process simulator in lockstep: each step may start at once, after the reset the last one asked for (as cmd/reset does).</summary>
    private sealed class ResetBeforeStep(UprightResetCondition reset, BalanceBotEnvironment environment) : IStepClock
    {
        public long WaitUntil(long deadline)
        {
            if (reset.TryTakeResetRequest()) environment.ResetRobot();
            return Stopwatch.GetTimestamp();
        }
    }

    private sealed record Result(List<LearnerUpdate> Updates, List<LearnerRollback> Rollbacks, float[] Policy, long LearnerHolds);

    private static Result Run(TimeSpan learnerDelay)
    {
        string dir = CliTestRun.TempDirectory();
        var json = DemoRun.ConfigJson("ppo", 5, SimClockMode.Lockstep, 1883, null);
        var config = DemoRun.ParseConfig(json, dir);
        using var environment = new BalanceBotEnvironment(config, RobotPhysicsConfigLoader.LoadRobot("balance-bot"), seed: 5, randomizeOnReset: true);
        var task = ControlTasks.Create(config);
        // A tiny batch, and the return guard on: its verdicts (at episode ends) change the policy too.
        var options = new LearningOptions { BatchSteps = 128, EvaluationEpisodes = 2, ValueHiddenSizes = [64, 64], Seed = 5 };
        var algorithm = OnDeviceAlgorithms.Create(options, task.ObservationSize, task.ActionSize, config.Policy.HiddenSizes, config.RobotId);
        var ring = new TrajectoryRing(task.ObservationSize, task.ActionSize, 16384);
        var recorder = new Recorder(learnerDelay);
        var learner = new OnDeviceLearner(algorithm, ring, options, recorder);
        var exchange = new PolicyExchange(learner.InitialPolicy);
        learner.Attach(exchange);
        var reset = OnDeviceLearning.CreateResetCondition(config, config.Learning!)!;
        var safety = new SafetySupervisor(config.Safety, config.ControlRateHz, task.ActionSize);
        var loop = new ControlLoop(environment.Io, task, exchange, safety, config.ControlRateHz, config.Task.MaxEpisodeSteps, config.Policy.Seed,
            rolloutRing: ring, clock: new ResetBeforeStep(reset, environment), episodeReset: reset)
        {
            LearnerGate = learner.Gate,
        };
        learner.Start();
        loop.Run(Steps, warmupSteps: 1);
        learner.Stop(TimeSpan.FromSeconds(30));
        Assert.Equal(Steps, loop.StepCount);
        Assert.Equal(0, loop.LearnerHoldTimeouts);
        return new Result(recorder.Updates, recorder.Rollbacks, learner.Agent.Policy.Parameters.ToArray(), loop.LearnerHolds);
    }

    [Fact]
    public void Two_lockstep_runs_with_the_same_seed_learn_the_same_whether_the_learner_is_fast_or_slow()
    {
        var fast = Run(TimeSpan.Zero);
        var slow = Run(TimeSpan.FromMilliseconds(15));

        // 4000 steps of 128-transition batches: about 30 updates, some rolled back by the return guard.
        Assert.True(fast.Updates.Count >= 20, $"{fast.Updates.Count} updates");
        Assert.True(fast.Updates.Count(u => u.Accepted) >= 10);
        Assert.Equal(fast.Updates, slow.Updates); // losses, KL, mean returns, steps, episodes, the loop step of each update
        Assert.Equal(fast.Rollbacks, slow.Rollbacks);
        Assert.Equal(fast.Policy, slow.Policy);   // bit for bit
        Assert.True(slow.LearnerHolds >= slow.Updates.Count);
    }
}
