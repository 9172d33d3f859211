using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using MQTTnet.Protocol;

namespace RobotPG.Controller.Fleet;

/// <summary>
/// What a robot of a learning fleet adds to a run (learning.mode fleet): the rollout ring the loop feeds,
/// the <see cref="FleetRolloutPublisher"/> that ships it to the learners, and the
/// <see cref="FleetPolicyReceiver"/> that takes their signed broadcasts through the guards. One
/// below-normal-priority thread pumps both (<see cref="Pump"/> is the synchronous core that lockstep
/// simulations and tests drive); the control loop never waits on either.
/// </summary>
public sealed class FleetLearning : IDisposable
{
    public const int DefaultBatchTransitions = 100;
    public const double DefaultMaxKl = 1.0;

    private readonly ResilientMqttClient? _client;
    private readonly string _rolloutTopic;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private bool _stopped;

    /// <summary>
    /// Builds the fleet side from its parts (the simulator's fleet and tests use this directly).
    /// <paramref name="send"/> publishes one encoded batch without waiting (QoS 1); false counts it refused.
    /// </summary>
    public FleetLearning(Topics topics, GaussianPolicy initial, RunningMeanStd? initialNormalizer, IFleetPolicyVerifier verifier,
        int batchTransitions, double maxKl, int evaluationEpisodes, double returnDropMargin, UprightResetCondition? reset,
        FleetRolloutPublisher.BatchSink send, int ringCapacity = 0)
    {
        ArgumentNullException.ThrowIfNull(topics);
        int n = initial.ObservationSize, m = initial.ActionSize;
        RolloutRing = new TrajectoryRing(n, m, ringCapacity > 0 ? ringCapacity : Math.Max(8 * batchTransitions, 4096));
        Publisher = new FleetRolloutPublisher(RolloutRing, batchTransitions, send);
        Receiver = new FleetPolicyReceiver(verifier, initial, initialNormalizer, maxKl, evaluationEpisodes, returnDropMargin);
        Publisher.EpisodeEnded += (episodeReturn, _) => Receiver.OnEpisode(episodeReturn);
        Reset = reset;
        _rolloutTopic = topics.Rollout;
    }

    private FleetLearning(Topics topics, GaussianPolicy initial, RunningMeanStd? normalizer, IFleetPolicyVerifier verifier, FleetConfig fleet,
        LearningConfig learning, UprightResetCondition? reset, ResilientMqttClient client)
        : this(topics, initial, normalizer, verifier, fleet.BatchTransitions ?? DefaultBatchTransitions, fleet.MaxKl ?? DefaultMaxKl,
            learning.EvaluationEpisodes, learning.ReturnDropMargin ?? new LearningOptions().ReturnDropMargin, reset,
            payload => client.TryPublish(topics.Rollout, payload, MqttQualityOfServiceLevel.AtLeastOnce))
    {
        _client = client;
    }

    public TrajectoryRing RolloutRing { get; }

    public FleetRolloutPublisher Publisher { get; }

    public FleetPolicyReceiver Receiver { get; }

    public UprightResetCondition? Reset { get; }

    public ControlPolicy InitialPolicy => Receiver.InitialPolicy;

    /// <summary>The rollout topic of this robot.</summary>
    public string RolloutTopic => _rolloutTopic;

    /// <summary>
    /// Builds the fleet side of a robot from its config: starting policy from the config's checkpoint (or
    /// the seeded initialisation), the operator key, the broker connection. Throws <see cref="ArgumentException"/>
    /// or <see cref="CheckpointException"/> with the reason.
    /// </summary>
    public static FleetLearning Create(RobotConfig config, string configDirectory, IControlTask task, string? checkpoint, TextWriter output)
    {
        var learning = config.Learning ?? throw new ArgumentException("no learning section");
        var fleet = learning.Fleet ?? throw new ArgumentException("learning.fleet is required when learning.mode is \"fleet\"");
        var network = new GaussianPolicy(task.ObservationSize, task.ActionSize, config.Policy.HiddenSizes, maxBatch: 1, seed: config.Policy.Seed);
        RunningMeanStd? normalizer = null;
        if (checkpoint is not null)
        {
            var info = CheckpointFile.ReadInfo(checkpoint);
            if (info.ObservationNormalizerSize == task.ObservationSize) normalizer = new RunningMeanStd(task.ObservationSize);
            CheckpointFile.Load(checkpoint, new TrainingState { Policy = network, ObservationNormalizer = normalizer });
        }
        string keyPath = Path.Combine(configDirectory, fleet.OperatorPublicKey);
        SignatureVerifier keys;
        try
        {
            keys = SignatureVerifier.FromFiles([keyPath]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"learning.fleet.operatorPublicKey: {e.Message}", e);
        }
        var verifier = new OperatorFleetPolicyVerifier(keys, fleet.Name);
        var endpoint = MqttEndpoint.TryParse(fleet.Broker, $"robotpg-{config.RobotId}-fleet", out string? error)
            ?? throw new ArgumentException($"learning.fleet.broker: {error}");
        int batch = fleet.BatchTransitions ?? DefaultBatchTransitions;
        var client = new ResilientMqttClient(endpoint, new ResilientMqttClientOptions
        {
            QueueCapacity = 16,
            MaxPayloadLength = Math.Max(RolloutBatch.EncodedLength(task.ObservationSize, task.ActionSize, batch), FrameFormat.MaxFrameLength),
        });
        var topics = new Topics(config.RobotId);
        var result = new FleetLearning(topics, network, normalizer, verifier, fleet, learning, OnDeviceLearning.CreateResetCondition(config, learning), client);
        client.SubscribeAsync(Topics.FleetPolicy(fleet.Name), (_, in payload) => result.Receiver.Offer(payload),
            MqttQualityOfServiceLevel.AtLeastOnce).GetAwaiter().GetResult();
        output.WriteLine($"robotpg: fleet learning: rollouts to {fleet.Broker} {topics.Rollout}, policies from {Topics.FleetPolicy(fleet.Name)}");
        return result;
    }

    public void Attach(PolicyExchange exchange)
    {
        Receiver.Attach(exchange);
        Publisher.Attach(exchange);
    }

    /// <summary>Ships what the loop logged and judges the newest broadcast; returns the ring records taken.</summary>
    public int Pump()
    {
        int taken = Publisher.Pump();
        Receiver.Pump(Publisher.RecentBatch);
        return taken;
    }

    /// <summary>Connects, then pumps on a below-normal-priority thread until <see cref="Stop"/>.</summary>
    public void Start()
    {
        _client?.Start();
        _thread = new Thread(Run) { IsBackground = true, Name = "robotpg-fleet", Priority = ThreadPriority.BelowNormal };
        _thread.Start();
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (Pump() == 0) Thread.Sleep(1);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Never let a fleet fault reach the loop: the robot keeps its last good policy.
                Console.Error.WriteLine("robotpg: fleet: " + e.Message);
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>After the loop stopped: the last partial batch goes out.</summary>
    public void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        _stop.Cancel();
        _thread?.Join(TimeSpan.FromSeconds(5));
        Publisher.Pump();
        Publisher.Flush();
    }

    public void Dispose()
    {
        Stop();
        // Give QoS 1 batches a moment to reach the broker before the connection closes.
        _client?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stop.Dispose();
    }
}
