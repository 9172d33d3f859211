using System.Diagnostics;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Fleet;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Networks;
using RobotPG.Messaging;
using RobotPG.Sim.Environments;
using RobotPG.Sim.Robots;
using MQTTnet.Protocol;

namespace RobotPG.Sim.Fleet;

/// <summary>One point of a robot's learning curve: an episode's end.</summary>
public readonly record struct FleetEpisode(string Robot, long RobotSteps, double RobotSeconds, double Return, int Length, ulong PolicyVersion, double WallSeconds);

/// <summary>
/// A simulated robot of a learning fleet: the controller's loop, task, safety filter and fleet side
/// (<see cref="FleetLearning"/>: rollout publisher, guarded policy receiver) over an in-process
/// <see cref="BalanceBotEnvironment"/> with domain randomisation on every reset, stepped in lockstep on
/// the caller's thread. Its rollouts and policies go over the broker exactly as a real robot's.
/// </summary>
public sealed class FleetSimRobot : IAsyncDisposable
{
    private const int PumpEvery = 16;

    private readonly BalanceBotEnvironment _environment;
    private readonly ControlLoop _loop;
    private readonly ResilientMqttClient _client;
    private readonly long _periodTicks;
    private readonly Stopwatch _wall;
    private readonly List<FleetEpisode> _episodes = [];
    private long _steps;

    public FleetSimRobot(RobotConfig config, RobotPhysicsConfig physics, ulong seed, MqttEndpoint endpoint, IFleetPolicyVerifier verifier,
        int batchTransitions, double maxKl, Stopwatch wall)
    {
        Name = config.RobotId;
        _wall = wall;
        var learning = config.Learning ?? throw new ArgumentException("the config has no learning section", nameof(config));
        _environment = new BalanceBotEnvironment(config, physics, seed, randomizeOnReset: true);
        IControlTask task = ControlTasks.Create(config);
        var topics = new Topics(config.RobotId);
        _client = new ResilientMqttClient(endpoint, new ResilientMqttClientOptions
        {
            QueueCapacity = 64,
            MaxPayloadLength = Math.Max(RolloutBatch.EncodedLength(task.ObservationSize, task.ActionSize, batchTransitions), FrameFormat.MaxFrameLength),
        });
        var initial = new GaussianPolicy(task.ObservationSize, task.ActionSize, config.Policy.HiddenSizes, maxBatch: 1, seed: config.Policy.Seed);
        Fleet = new FleetLearning(topics, initial, null, verifier, batchTransitions, maxKl, learning.EvaluationEpisodes,
            learning.ReturnDropMargin ?? 0.5, OnDeviceLearning.CreateResetCondition(config, learning),
            payload => _client.TryPublish(topics.Rollout, payload, MqttQualityOfServiceLevel.AtLeastOnce));
        Fleet.Publisher.EpisodeEnded += (episodeReturn, length) =>
        {
            lock (_episodes)
                _episodes.Add(new FleetEpisode(Name, _steps, _steps / ControlRateHz, episodeReturn, length, Fleet.Receiver.RunningVersion, _wall.Elapsed.TotalSeconds));
        };
        var policies = new PolicyExchange(Fleet.InitialPolicy);
        Fleet.Attach(policies);
        var safety = new SafetySupervisor(config.Safety, config.ControlRateHz, task.ActionSize);
        _loop = new ControlLoop(_environment.Io, task, policies, safety, config.ControlRateHz, config.Task.MaxEpisodeSteps, config.Policy.Seed ^ seed,
            logRing: null, rolloutRing: Fleet.RolloutRing, clock: null, episodeReset: Fleet.Reset);
        _periodTicks = (long)Math.Round(Stopwatch.Frequency / config.ControlRateHz);
        ControlRateHz = config.ControlRateHz;
        _client.SubscribeAsync(Topics.FleetPolicy(learning.Fleet!.Name), (_, in payload) => Fleet.Receiver.Offer(payload), MqttQualityOfServiceLevel.AtLeastOnce)
            .GetAwaiter().GetResult();
    }

    public string Name { get; }

    public FleetLearning Fleet { get; }

    public double ControlRateHz { get; }

    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Rollout batches the broker acknowledged (QoS 1).</summary>
    public long BatchesAcknowledged => _client.Published;

    /// <summary>Batches lost on the robot's side: refused by a full queue or discarded while the broker was away.</summary>
    public long BatchesLost => Fleet.Publisher.BatchesRefused + _client.DroppedWhileDisconnected + _client.PublishFailures;

    public IReadOnlyList<FleetEpisode> Episodes
    {
        get
        {
            lock (_episodes) return [.. _episodes];
        }
    }

    /// <summary>Mean length (steps) of the last <paramref name="count"/> episodes; 0 before the first.</summary>
    public double MeanEpisodeLength(int count = 10)
    {
        lock (_episodes)
        {
            int n = Math.Min(count, _episodes.Count);
            if (n == 0) return 0;
            double sum = 0;
            for (int i = _episodes.Count - n; i < _episodes.Count; i++) sum += _episodes[i].Length;
            return sum / n;
        }
    }

    public async Task StartAsync(TimeSpan timeout)
    {
        _client.Start();
        if (!await _client.WaitConnectedAsync(timeout).ConfigureAwait(false))
            throw new IOException($"{Name}: cannot reach the broker: {_client.LastError ?? "no answer"}");
    }

    /// <summary>Runs <paramref name="steps"/> control steps (lockstep: one physics tick each), pumping the fleet side every 16.</summary>
    public void Run(int steps)
    {
        for (int i = 0; i < steps; i++)
        {
            _loop.Step(_steps * _periodTicks);
            Interlocked.Increment(ref _steps);
            if (Fleet.Reset is { } reset && reset.TryTakeResetRequest())
                _environment.ResetRobot();
            if (_steps % PumpEvery == 0) Fleet.Pump();
        }
    }

    /// <summary>Ships the partial batch and waits until the broker acknowledged every batch handed over (or the timeout).</summary>
    public async Task FlushAsync(TimeSpan timeout)
    {
        Fleet.Pump();
        Fleet.Publisher.Flush();
        var deadline = Stopwatch.StartNew();
        while (_client.Published + BatchesLost - Fleet.Publisher.BatchesRefused < Fleet.Publisher.BatchesPublished && deadline.Elapsed < timeout)
            await Task.Delay(5).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _loop.RequestStop();
        await _client.DisposeAsync().ConfigureAwait(false);
        _environment.Dispose();
    }
}
