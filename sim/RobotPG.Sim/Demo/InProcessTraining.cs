using System.Diagnostics;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Tasks;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Robots;

namespace RobotPG.Sim.Demo;

/// <summary>
/// Pre-training on a desktop (DESIGN.md: "the same learner code trains in-process against the
/// simulator, no MQTT, as fast as the CPU allows"): the controller's loop, task, safety filter and
/// on-device learner over a <see cref="BalanceBotEnvironment"/>, stepped on the calling thread with
/// no pacing. The learner is pumped synchronously between steps, so a run is deterministic for a seed.
/// </summary>
public sealed class InProcessTraining : IDisposable
{
    private const int PumpEvery = 16;

    private readonly BalanceBotEnvironment _environment;
    private readonly OnDeviceLearning _learning;
    private readonly ControlLoop _loop;
    private readonly long _periodTicks;
    private long _steps;

    /// <param name="config">A balance-bot or cartpole-rail config with a learning section (its checkpoint directory and policy.checkpoint are taken relative to <paramref name="workDirectory"/>).</param>
    /// <param name="initialCheckpoint">The policy to start from; null: the config's policy.checkpoint, if any.</param>
    public InProcessTraining(RobotConfig config, RobotPhysicsConfig physics, ulong seed, bool randomizeOnReset, string workDirectory, TextWriter output,
        string? initialCheckpoint = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var learningConfig = config.Learning ?? throw new ArgumentException("the config has no learning section", nameof(config));
        _environment = new BalanceBotEnvironment(config, physics, seed, randomizeOnReset);
        IControlTask task = ControlTasks.Create(config);
        // As the controller starts: the given policy, else the config's policy.checkpoint (relative to its directory).
        initialCheckpoint ??= config.Policy.Checkpoint is { } configured ? Path.Combine(workDirectory, configured) : null;
        _learning = OnDeviceLearning.Create(config, learningConfig, workDirectory, task, initialCheckpoint, resume: false, output);
        var policies = new PolicyExchange(_learning.Learner.InitialPolicy);
        _learning.Learner.Attach(policies);
        var safety = new SafetySupervisor(config.Safety, config.ControlRateHz, task.ActionSize);
        _loop = new ControlLoop(_environment.Io, task, policies, safety, config.ControlRateHz, config.Task.MaxEpisodeSteps, config.Policy.Seed,
            logRing: null, rolloutRing: _learning.RolloutRing, clock: null,
            episodeReset: (IEpisodeReset?)_learning.Reset ?? new SimulatorReset(_environment.ResetRobot));
        _periodTicks = (long)Math.Round(Stopwatch.Frequency / config.ControlRateHz);
        ControlRateHz = config.ControlRateHz;
    }

    public OnDeviceLearner Learner => _learning.Learner;

    public LearningEventQueue Events => _learning.Events;

    public ControlLoop Loop => _loop;

    public BalanceBotEnvironment Environment => _environment;

    public double ControlRateHz { get; }

    /// <summary>Control steps run so far (simulated seconds = steps / rate).</summary>
    public long Steps => _steps;

    /// <summary>Runs <paramref name="steps"/> control steps, or fewer when <paramref name="stop"/> says so (checked after each update).</summary>
    public void Run(long steps, Func<InProcessTraining, bool>? stop = null)
    {
        long updates = _learning.Learner.Updates;
        for (long i = 0; i < steps; i++)
        {
            _loop.Step(_steps * _periodTicks);
            _steps++;
            if (_learning.Reset is { } reset && reset.TryTakeResetRequest())
                _environment.ResetRobot();
            if (_steps % PumpEvery == 0)
            {
                _learning.Learner.Pump();
                if (_learning.Learner.Updates != updates)
                {
                    updates = _learning.Learner.Updates;
                    if (stop is not null && stop(this)) return;
                }
            }
        }
    }

    /// <summary>Writes the learner's checkpoint now (the one the robot loads).</summary>
    public void SaveCheckpoint() => _learning.Learner.SaveCheckpoint();

    public void Dispose()
    {
        _learning.Dispose();
        _environment.Dispose();
    }
}
