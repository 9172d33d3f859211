using System.Buffers;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Controller.Telemetry;
using RobotPG.Learning.Checkpoints;
using RobotPG.Controller.Remote;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;

namespace RobotPG.Controller.Hosting;

/// <summary>A start-up failure after the config was accepted (checkpoint, broker, chips): one line, exit code 1.</summary>
public sealed class StartupException(string message, Exception? inner = null, int exitCode = 1) : Exception(message, inner)
{
    /// <summary>2 when the input (a checkpoint file) is bad, 1 when the machine or the network is (the CLI's convention).</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// One run of the controller: policy, robot connection, trajectory log, control loop, telemetry,
/// e-stop command — started in that order, stopped in the order that keeps the robot safe: the loop
/// stops the motors first, then the motors-off writes are flushed to the robot, then the log is
/// flushed to disk, then telemetry publishes its last status.
/// </summary>
public sealed class ControllerHost : IDisposable
{
    private static readonly TimeSpan BrokerTimeout = TimeSpan.FromSeconds(5);

    private readonly List<ResilientMqttClient> _clients = [];
    private RobotConnection? _robot;
    private TrajectoryLogWriter? _logWriter;
    private TelemetryPublisher? _telemetry;
    private RemoteOperation? _remote;
    private SignatureVerifier? _verifier;
    private Topics _topics = null!;
    private bool _stopped;

    private ControllerHost(RobotConfig config) => Config = config;

    public RobotConfig Config { get; }

    public ControlPolicy Policy { get; private set; } = null!;

    public ControlLoop Loop { get; private set; } = null!;

    public TrajectoryRing LogRing { get; private set; } = null!;

    public TrajectoryLogWriter LogWriter => _logWriter!;

    public TelemetryPublisher? Telemetry => _telemetry;

    /// <summary>Signed commands, replies and the retained status (with telemetry on).</summary>
    public RemoteOperation? Remote => _remote;

    public RobotConnection Robot => _robot!;

    /// <summary>Pushed, loaded and saved policies (a robot that does not learn; null otherwise).</summary>
    public PolicyDeployment? Deployment { get; private set; }

    /// <summary>The learner side of the run when the config has a learning section (issue 7).</summary>
    public OnDeviceLearning? Learning { get; private set; }

    /// <summary>The fleet side of the run when learning.mode is fleet.</summary>
    public Fleet.FleetLearning? FleetLearning { get; private set; }

    /// <summary>
    /// Builds everything and starts the loop thread. <paramref name="configDirectory"/> anchors the
    /// config's relative paths; <paramref name="policyPath"/> overrides policy.checkpoint. Throws
    /// <see cref="StartupException"/> (one line) when a part cannot start; whatever started is stopped.
    /// </summary>
    public static ControllerHost Start(RobotConfig config, string configDirectory, string? policyPath, double? durationSeconds, TextWriter output, bool resume = false,
        DryRun? dryRun = null)
    {
        var host = new ControllerHost(config);
        try
        {
            host.StartCore(configDirectory, policyPath, durationSeconds, output, resume, dryRun);
            return host;
        }
        catch (Exception e) when (e is not StartupException)
        {
            host.Dispose();
            throw new StartupException(OneLine(e.Message), e);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    private string _configDirectory = ".";
    private SystemdNotifier? _notifier;

    private void StartCore(string configDirectory, string? policyPath, double? durationSeconds, TextWriter output, bool resume, DryRun? dryRun)
    {
        _configDirectory = configDirectory;
        var c = Config;
        var task = ControlTasks.Create(c);
        string? checkpoint = policyPath ?? (c.Policy.Checkpoint is { } p ? Path.Combine(configDirectory, p) : null);
        bool fleet = c.Learning is { Mode: "fleet" } fl && fl.Algorithm != "off";
        bool learning = !fleet && c.Learning is { } l && l.Algorithm != "off";
        if (c.Security is { OperatorKeys.Length: > 0 } security)
        {
            try
            {
                _verifier = SignatureVerifier.FromFiles(security.OperatorKeys.Select(k => Path.Combine(configDirectory, k)),
                    TimeSpan.FromSeconds(security.CommandWindowSeconds));
            }
            catch (System.Security.Cryptography.CryptographicException e)
            {
                throw new StartupException($"security.operatorKeys: {OneLine(e.Message)}", e);
            }
        }
        var deployment = new PolicyDeployment(c, configDirectory, _verifier, task.ObservationSize, task.ActionSize);
        try
        {
            // A learning robot starts from the learner's parameters (built below, once the sim bus is up).
            if (!learning && !fleet)
                Policy = checkpoint is null ? ControlPolicy.Zero(task.ObservationSize, task.ActionSize) : deployment.FromDisk(checkpoint);
        }
        catch (CheckpointException e)
        {
            throw new StartupException($"policy: {OneLine(e.Message)}", e, exitCode: 2);
        }

        var topics = new Topics(c.RobotId);
        _topics = topics;
        ResilientMqttClient? simClient = null;
        if (c.Bus.Kind == BusKind.Sim)
        {
            simClient = Connect(c.Bus.Broker!, $"robotpg-{c.RobotId}");
            try
            {
                _robot = SimRobotConnection.Open(c, simClient, TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException e)
            {
                throw new StartupException(OneLine(e.Message), e);
            }
        }
        else
        {
            try
            {
                _robot = new PiRobotConnection(c, dryRun is null ? null : new DryRunRobotBus(c));
            }
            catch (Exception e) when (e is PlatformNotSupportedException or DllNotFoundException or EntryPointNotFoundException)
            {
                // System.Device.Gpio's own words name libgpiod; say what the user can do instead.
                throw new StartupException(
                    $"this machine has no GPIO/I2C for bus.kind \"pi\" ({OneLine(e.Message)}); run it on the Raspberry Pi, or use a config with bus.kind \"sim\" against robotpg-sim serve", e);
            }
        }

        if (learning)
        {
            try
            {
                Learning = OnDeviceLearning.Create(c, c.Learning!, configDirectory, task, checkpoint, resume, output, statePath: dryRun is null ? null : dryRun.StatePath);
            }
            catch (Exception e) when (e is ArgumentException or CheckpointException)
            {
                throw new StartupException($"learning: {OneLine(e.Message)}", e, exitCode: e is CheckpointException ? 2 : 1);
            }
            Policy = Learning.Learner.InitialPolicy;
        }
        if (fleet)
        {
            try
            {
                FleetLearning = Fleet.FleetLearning.Create(c, configDirectory, task, checkpoint, output);
            }
            catch (Exception e) when (e is ArgumentException or CheckpointException)
            {
                throw new StartupException($"learning: {OneLine(e.Message)}", e);
            }
            Policy = FleetLearning.InitialPolicy;
        }

        LogRing = new TrajectoryRing(task.ObservationSize, task.ActionSize, c.Log.RingRecords);
        string logDirectory = Path.Combine(configDirectory, c.Log.Directory);
        if (dryRun is not null) logDirectory = dryRun.StatePath(logDirectory);
        _logWriter = new TrajectoryLogWriter(LogRing, logDirectory, c.Log.RotateBytes, c.RobotId, Policy.Hash, DateTimeOffset.UtcNow,
            new LogSyncPolicy(c.Log.SyncEveryRecords, c.Log.SyncEveryMs), task: TaskShapes.Name(c.Task.Kind));
        Learning?.LogUpdatesTo(_logWriter);

        var safety = new SafetySupervisor(c.Safety, c.ControlRateHz, task.ActionSize, c.Battery);
        var policies = new PolicyExchange(Policy);
        Learning?.Learner.Attach(policies);
        FleetLearning?.Attach(policies);
        _notifier = SystemdNotifier.FromEnvironment(c.ControlRateHz);
        bool lockstep = c.Bus.Kind == BusKind.Sim && c.Bus.Clock == SimClock.Lockstep;
        var episodeReset = Learning?.Reset ?? FleetLearning?.Reset;
        // The simulator's robot is reset by a request in the actuator frames (a person stands up a real one).
        if (_robot is SimRobotConnection sim && episodeReset is not null) sim.Bus.TakeResetRequest = episodeReset.TryTakeResetRequest;
        Loop = new ControlLoop(_robot.Io, task, policies, safety, c.ControlRateHz, c.Task.MaxEpisodeSteps, c.Policy.Seed, LogRing,
            Learning?.RolloutRing ?? FleetLearning?.RolloutRing, _robot.Clock, episodeReset)
        {
            Notifier = _notifier,
            // In lockstep nothing runs on the wall clock: a slow disk may slow the run, but must not cost records.
            HoldWhileLogFull = lockstep,
            // In lockstep an update takes no robot time: the simulated robot waits for it, as in the in-process trainer.
            LearnerGate = lockstep ? Learning?.Learner.Gate : null,
        };
        ResilientMqttClient? telemetryClient = null;

        if (c.Telemetry.Enabled)
        {
            string broker = c.Telemetry.Broker ?? c.Bus.Broker!;
            var client = simClient is not null && broker == c.Bus.Broker ? simClient : Connect(broker, $"robotpg-{c.RobotId}-telemetry", waitForBroker: false);
            _telemetry = new TelemetryPublisher(Loop, c.ControlRateHz, LogRing, _logWriter, client, topics, Policy.Source, c.Telemetry.RateHz);
            telemetryClient = client;
            var exchange = policies;
            if (!learning && !fleet)
            {
                deployment.Attach(policies, Loop.RecentObservations);
                Deployment = deployment;
            }
            _remote = new RemoteOperation(client, topics, Loop, _verifier,
                () => (exchange.Current.Source, exchange.Current.Hash), learning || fleet ? null : deployment,
                Learning is { } onBoard ? onBoard.Learner.TryRequestRollbackToBest : null);
        }

        output.WriteLine($"robotpg: {c.RobotId}: {c.Task.Kind} at {c.ControlRateHz} Hz on {_robot.Description}; policy {Policy.Source}; log {logDirectory}");
        long maxSteps = dryRun is not null ? DryRun.Periods : durationSeconds is { } d ? (long)Math.Round(d * c.ControlRateHz) : long.MaxValue;
        Learning?.Start(telemetryClient);
        FleetLearning?.Start();
        Loop.Start(maxSteps);
        _telemetry?.Start();
        _remote?.Start();
    }

    private ResilientMqttClient Connect(string broker, string clientId, bool waitForBroker = true)
    {
        var endpoint = MqttEndpoint.TryParse(broker, clientId, out string? error)
            ?? throw new StartupException(error ?? $"broker '{broker}' is not an MQTT address");
        endpoint = Secure(endpoint);
        var options = new ResilientMqttClientOptions { KeepAlive = TimeSpan.FromSeconds(Config.Mqtt?.KeepAliveSeconds ?? 10) };
        var client = new ResilientMqttClient(endpoint, options);
        _clients.Add(client);
        client.Start();
        // The simulator is unusable without its broker; telemetry reconnects by itself later.
        if (waitForBroker && !client.WaitConnectedAsync(BrokerTimeout).GetAwaiter().GetResult())
            throw new StartupException($"cannot reach the MQTT broker at {broker} within {BrokerTimeout.TotalSeconds:F0} s: {client.LastError ?? "no answer"}");
        return client;
    }

    /// <summary>The config's mqtt section applied to an address: TLS files, credentials, protocol, limits, and the last will.</summary>
    private MqttEndpoint Secure(MqttEndpoint endpoint)
    {
        var m = Config.Mqtt;
        string? Resolve(string? file) => file is null ? null : Path.Combine(_configDirectory, file);
        string? user = null, password = null;
        if (m?.CredentialsFile is { } credentials)
        {
            try
            {
                (user, password) = MqttCredentials.Load(Resolve(credentials)!);
            }
            catch (InvalidDataException e)
            {
                throw new StartupException("mqtt.credentialsFile: " + OneLine(e.Message), e);
            }
        }
        return endpoint with
        {
            UserName = user,
            Password = password,
            CaFile = Resolve(m?.CaFile),
            ClientCertificateFile = Resolve(m?.ClientCertFile),
            ClientKeyFile = Resolve(m?.ClientKeyFile),
            Protocol = m?.ProtocolVersion == MqttProtocolVersion.V311 ? MqttProtocol.V311 : MqttProtocol.V5,
            MaximumPacketSize = (uint)(m?.MaximumPacketSize ?? 1048576),
            Will = new MqttLastWill(_topics.Status, RemoteOperation.OfflineStatus(Config.RobotId)),
        };
    }

    /// <summary>Any thread (signal handler, test): the loop finishes its step, stops the motors and ends.</summary>
    public void RequestStop() => Loop.RequestStop();

    /// <summary>
    /// Waits for the loop to end (duration reached or <see cref="RequestStop"/>), then shuts down in
    /// order: motors-off writes flushed to the robot, log flushed to disk, final telemetry.
    /// </summary>
    public void WaitForExit()
    {
        Loop.Join(Timeout.InfiniteTimeSpan);
        Shutdown();
    }

    private void Shutdown()
    {
        if (_stopped)
            return;
        _stopped = true;
        _robot?.FlushActuators();
        Learning?.Stop();
        FleetLearning?.Stop();
        _logWriter?.Flush(TimeSpan.FromSeconds(10));
        _telemetry?.Dispose();
        _remote?.Dispose();
    }

    public void Dispose()
    {
        if (Loop is not null)
        {
            Loop.RequestStop();
            Loop.Join(TimeSpan.FromSeconds(10));
            Shutdown();
        }
        _telemetry?.Dispose();
        _remote?.Dispose();
        _verifier?.Dispose();
        Learning?.Dispose();
        FleetLearning?.Dispose();
        _logWriter?.Dispose();
        _robot?.Dispose();
        foreach (var client in _clients)
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _clients.Clear();
        _notifier?.Dispose();
    }

    private static string OneLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
