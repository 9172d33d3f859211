using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Telemetry;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Training;
using RobotPG.Messaging;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Serving;
using RobotPG.Sim.Training;

namespace RobotPG.Sim.Demo;

/// <summary>What <c>robotpg-sim demo</c> was asked to do.</summary>
public sealed record DemoOptions
{
    /// <summary>Simulated seconds of the on-robot phase.</summary>
    public double DurationSeconds { get; init; } = 120;
    public string Algorithm { get; init; } = "ppo";
    public ulong Seed { get; init; } = 1;
    public SimClockMode Clock { get; init; } = SimClockMode.Realtime;
    public bool Json { get; init; }
    public bool FromScratch { get; init; }
    public string OutputDirectory { get; init; } = "robotpg-demo";

    /// <summary>Folder of the physics files; null = robots/ next to the executable.</summary>
    public string? PhysicsDirectory { get; init; }

    /// <summary>A broker to use (one a dashboard watches, say) with its TLS, credentials and protocol; null hosts the embedded broker.</summary>
    public MqttEndpoint? Broker { get; init; }

    /// <summary>The credentials file behind <see cref="Broker"/>'s user name and password (the controller's config names the file).</summary>
    public string? CredentialsFile { get; init; }

    /// <summary>In-process pre-training stops here even if the robot does not balance yet.</summary>
    public long MaxPretrainSteps { get; init; } = 200_000;
}

/// <summary>One line of <c>--json</c> per update.</summary>
public sealed record DemoUpdateLine(
    long Update, bool Accepted, long Steps, long Episodes, double MeanReturn, double MeanBalanceS, double ApproxKl, double ClipFraction,
    double Entropy, double PolicyLoss, double ValueLoss, double ExplainedVariance, double UpdateMs, double PeriodErrorP99Us);

/// <summary>The last line of <c>--json</c>.</summary>
public sealed record DemoFinalLine(
    bool Final, long Episodes, double MeanBalanceSLast10, long Updates, long Rollbacks, double PeriodErrorP99Us,
    long PretrainSteps, double PretrainWallS, double RobotSimS, double RobotWallS, string TrajectoryLog, string Checkpoint, string LearningCurve);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(DemoUpdateLine))]
[JsonSerializable(typeof(DemoFinalLine))]
public sealed partial class DemoJsonContext : JsonSerializerContext;

/// <summary>
/// The README's main command: the embedded broker, the simulated balance bot and the controller
/// in one process, talking MQTT on loopback exactly as a robot and a desktop do. Pre-trains in
/// process (unless from scratch), then the controller fine-tunes on the "robot" with domain
/// randomisation on, printing its progress; at the end it says where the log, the checkpoint and an
/// SVG learning curve are.
/// </summary>
public sealed class DemoRun
{
    /// <summary>The demo robot: the balance-bot at 50 Hz with 10 s episodes (the on-device tests' setting).</summary>
    public const double ControlRateHz = 50;
    public const int MaxEpisodeSteps = 500;

    private readonly DemoOptions _options;
    private readonly TextWriter _output;
    private readonly object _gate = new();
    private readonly LearningCurve _curve = new();
    private ControllerHost? _host;
    private readonly SemaphoreSlim _shownSignal = new(0);
    private volatile bool _cancelled;
    private long _shown;
    private long _pretrainLearnerSteps;

    public DemoRun(DemoOptions options, TextWriter output)
    {
        _options = options;
        _output = output;
    }

    /// <summary>Any thread (Ctrl-C): the robot phase stops after its current step; pre-training stops after its current update.</summary>
    public void Cancel()
    {
        _cancelled = true;
        _host?.RequestStop();
    }

    public async Task<int> RunAsync()
    {
        string outDir = Path.GetFullPath(_options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        string physicsDir = _options.PhysicsDirectory ?? Path.Combine(AppContext.BaseDirectory, "robots");
        RobotPhysicsConfig physics = RobotPhysicsConfigLoader.LoadRobot("balance-bot", physicsDir);

        // 1. Pre-training in process: the same loop, task and learner, no network, as fast as the CPU goes.
        string? pretrained = null;
        long pretrainSteps = 0;
        double pretrainWall = 0;
        if (!_options.FromScratch)
        {
            string pretrainDir = Path.Combine(outDir, "pretrain");
            Directory.CreateDirectory(pretrainDir);
            var pretrainConfig = Config(pretrainDir, port: 1883, checkpoint: null);
            Say($"pre-training in process ({_options.Algorithm}, nominal robot) until it balances for {MaxEpisodeSteps / ControlRateHz:F0} s ...");
            var wall = Stopwatch.StartNew();
            using (var training = new InProcessTraining(pretrainConfig, physics, _options.Seed, randomizeOnReset: false, pretrainDir, _output))
            {
                training.Run(_options.MaxPretrainSteps, t =>
                {
                    // The curve starts with pre-training: its updates come first, on the same step axis.
                    while (t.Events.TryTakeUpdate(out LearnerUpdate u))
                        _curve.Add(new TrainingProgress(u.Steps, 0, (int)u.Episodes, (int)u.Update, 0, u.MeanReturn,
                            new UpdateDiagnostics(u.PolicyLoss, u.ValueLoss, u.Entropy, u.ApproxKl, u.ClipFraction, u.ExplainedVariance, float.NaN, 0), u.DurationMs, 0));
                    return _cancelled || t.Learner.MeanEpisodeLength >= MaxEpisodeSteps;
                });
                _pretrainLearnerSteps = training.Learner.Steps;
                pretrainSteps = training.Steps;
                Say(string.Create(CultureInfo.InvariantCulture,
                    $"pre-trained: {training.Steps} steps ({training.Steps / ControlRateHz:F0} simulated s) in {wall.Elapsed.TotalSeconds:F1} s wall; mean return {training.Learner.MeanReturn:F1}, mean episode {training.Learner.MeanEpisodeLength / ControlRateHz:F1} s"));
            }
            pretrainWall = wall.Elapsed.TotalSeconds;
            pretrained = Path.Combine(pretrainDir, "checkpoints", LearnerCheckpoints.LatestName);
            if (_cancelled) return 0;
        }

        // 2. The robot: simulator + controller over MQTT on loopback, domain randomisation on.
        await using var sim = await SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot",
            Seed = _options.Seed,
            Clock = _options.Clock,
            EmbeddedPort = 0,
            Broker = _options.Broker,
            RandomizeOnReset = true,
            PhysicsDirectory = physicsDir,
            ControlRateHz = ControlRateHz,
        }).ConfigureAwait(false);
        string robotDir = Path.Combine(outDir, "robot");
        Directory.CreateDirectory(robotDir);
        var config = Config(robotDir, sim.BrokerPort, pretrained);

        await using var watcher = new ResilientMqttClient((_options.Broker ?? new MqttEndpoint("127.0.0.1", sim.BrokerPort, SimClientId)) with { ClientId = "robotpg-demo-display" });
        watcher.Start();
        await watcher.WaitConnectedAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        var topics = new Topics(config.RobotId);
        await watcher.SubscribeAsync(topics.Telemetry("learning"), OnUpdate).ConfigureAwait(false);

        Say(_options.Clock == SimClockMode.Realtime
            ? $"the robot runs in real time: about {_options.DurationSeconds:F0} s of wall time (Ctrl-C stops it early; --clock lockstep runs as fast as the machine goes){(_options.FromScratch && _options.DurationSeconds < 600 ? "; from scratch it needs about --duration 600 to learn to balance" : "")}"
            : $"the robot runs in lockstep, as fast as this machine goes{(_options.FromScratch && _options.DurationSeconds < 600 ? "; from scratch it needs about --duration 600 to learn to balance" : "")}");
        Say($"robot: simulated balance-bot ({(_options.Clock == SimClockMode.Realtime ? "real-time" : "lockstep")} clock, randomised at every reset) ⇄ MQTT {sim.BrokerHost}:{sim.BrokerPort} ⇄ controller learning with {_options.Algorithm}, {_options.DurationSeconds:F0} simulated s");
        var robotWall = Stopwatch.StartNew();
        try
        {
            _host = ControllerHost.Start(config, robotDir, null, _options.DurationSeconds, _options.Json ? TextWriter.Null : _output);
        }
        catch (StartupException e)
        {
            Console.Error.WriteLine($"robotpg-sim demo: {e.Message}");
            return 1;
        }
        if (_cancelled) _host.RequestStop();
        var host = _host;
        try
        {
            await Task.Run(host.WaitForExit).ConfigureAwait(false);
            var learner = host.Learning!.Learner;
            // The last updates' telemetry may still be on its way over MQTT: show them before the summary.
            while (Interlocked.Read(ref _shown) < learner.Updates && await _shownSignal.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false))
            {
            }
            double p99 = host.Loop.PeriodError.Percentile(0.99);
            string logDir = Path.Combine(robotDir, "logs");
            string checkpoint = Path.Combine(robotDir, "checkpoints", LearnerCheckpoints.LatestName);
            string svg = Path.Combine(outDir, TrainCommand.CurveSvgFileName);
            string csv = Path.Combine(outDir, TrainCommand.CurveCsvFileName);
            lock (_gate)
            {
                File.WriteAllText(svg, _curve.ToSvg($"robotpg-sim demo: balance-bot, {_options.Algorithm}: {(_options.FromScratch ? "" : "pre-training, then ")}on the robot"));
                File.WriteAllText(csv, _curve.ToCsv());
            }
            double balance = learner.MeanEpisodeLength / ControlRateHz;
            if (_options.Json)
            {
                _output.WriteLine(JsonSerializer.Serialize(new DemoFinalLine(true, learner.Episodes, double.IsNaN(balance) ? 0 : balance, learner.Updates,
                    learner.Rollbacks, p99, pretrainSteps, pretrainWall, host.Loop.StepCount / ControlRateHz, robotWall.Elapsed.TotalSeconds,
                    logDir, checkpoint, svg), DemoJsonContext.Default.DemoFinalLine));
            }
            else
            {
                _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"done: {learner.Episodes} episodes, mean balance (last 10) {balance:F1} s, {learner.Updates} updates, {learner.Rollbacks} rollbacks, loop period error p99 {p99:F0} µs, {host.Loop.Counters.Overruns} overruns, {host.Loop.Safety.Events(RobotPG.Controller.Control.SafetyCause.StaleSensor)} stale-sensor trips; motors {(host.Loop.Safety.Tripped ? "off (" + TelemetryPublisher.CauseName(host.Loop.Safety.Cause) + ")" : "on")}"));
                _output.WriteLine($"trajectory log: {logDir}");
                _output.WriteLine($"checkpoint:     {checkpoint}");
                _output.WriteLine($"learning curve: {svg} (and {csv})");
            }
            return 0;
        }
        finally
        {
            host.Dispose();
        }
    }

    private void OnUpdate(string topic, in ReadOnlySequence<byte> payload)
    {
        LearningTelemetryMessage? m;
        try
        {
            var reader = new Utf8JsonReader(payload);
            m = JsonSerializer.Deserialize(ref reader, LearningTelemetryJsonContext.Default.LearningTelemetryMessage);
        }
        catch (JsonException)
        {
            return;
        }
        if (m is null) return;
        double p99 = _host?.Loop.PeriodError.Percentile(0.99) ?? double.NaN;
        double balance = m.MeanEpisodeLength / ControlRateHz;
        lock (_gate)
        {
            _curve.Add(new TrainingProgress(_pretrainLearnerSteps + m.Steps, 0, (int)m.Episodes, (int)m.Update, 0, m.MeanReturn,
                new UpdateDiagnostics((float)m.PolicyLoss, (float)m.ValueLoss, (float)m.Entropy, (float)m.ApproxKl, (float)m.ClipFraction,
                    (float)m.ExplainedVariance, float.NaN, 0), m.UpdateMs, 0));
            if (_options.Json)
            {
                _output.WriteLine(JsonSerializer.Serialize(new DemoUpdateLine(m.Update, m.Accepted, m.Steps, m.Episodes, m.MeanReturn, balance,
                    m.ApproxKl, m.ClipFraction, m.Entropy, m.PolicyLoss, m.ValueLoss, m.ExplainedVariance, m.UpdateMs, p99), DemoJsonContext.Default.DemoUpdateLine));
            }
            else
            {
                _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"update {m.Update,4}{(m.Accepted ? " " : "✗")} steps {m.Steps,7}  episodes {m.Episodes,5}  return {m.MeanReturn,7:F1}  balance {balance,5:F1} s  KL {m.MeanKl:F4}  update {m.UpdateMs,6:F1} ms  jitter p99 {p99,5:F0} µs"));
            }
            Interlocked.Increment(ref _shown);
            _shownSignal.Release();
        }
    }

    private void Say(string line)
    {
        if (!_options.Json) _output.WriteLine(line);
    }

    /// <summary>The demo robot's controller config: the shipped balance-bot sim config at 50 Hz, learning on.</summary>
    /// <summary>The simulator's client id on an external broker.</summary>
    public const string SimClientId = "robotpg-sim-balance-bot";

    private RobotConfig Config(string directory, int port, string? checkpoint)
    {
        var json = ConfigJson(_options.Algorithm, _options.Seed, _options.Clock, port, checkpoint);
        if (_options.Broker is { } b)
        {
            // The controller connects as the simulator and the display do: same broker, TLS files, credentials file and protocol.
            json["bus"]!["broker"] = $"{(b.UseTls ? "mqtts" : "mqtt")}://{b.Host}:{b.Port}";
            var mqtt = new JsonObject { ["protocolVersion"] = b.Protocol == MqttProtocol.V311 ? "3.1.1" : "5" };
            foreach (var (key, file) in new[] { ("caFile", b.CaFile), ("clientCertFile", b.ClientCertificateFile), ("clientKeyFile", b.ClientKeyFile), ("credentialsFile", _options.CredentialsFile) })
                if (file is not null) mqtt[key] = Path.GetFullPath(file);
            json["mqtt"] = mqtt;
        }
        return ParseConfig(json, directory);
    }

    /// <summary>Writes the config into <paramref name="directory"/> (balance-bot.demo.json) and loads it as the controller would.</summary>
    public static RobotConfig ParseConfig(JsonObject json, string directory)
    {
        ArgumentNullException.ThrowIfNull(json);
        string file = Path.Combine(directory, "balance-bot.demo.json");
        string text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(file, text);
        var loaded = ConfigLoader.Parse(file, text, directory);
        if (!loaded.Ok) throw new InvalidOperationException($"demo config {file}: {string.Join("; ", loaded.Errors)}");
        return loaded.Config!;
    }

    /// <summary>The demo robot's controller config as JSON (robot-seconds adjusts its learning section).</summary>
    public static JsonObject ConfigJson(string algorithm, ulong seed, SimClockMode clock, int port, string? checkpoint)
    {
        var json = new JsonObject
        {
            ["robotId"] = "balance-bot",
            ["controlRateHz"] = ControlRateHz,
            ["bus"] = new JsonObject { ["kind"] = "sim", ["i2cBusId"] = 1, ["broker"] = $"mqtt://127.0.0.1:{port}", ["clock"] = clock == SimClockMode.Realtime ? "realtime" : "lockstep" },
            ["task"] = new JsonObject { ["kind"] = "balance-bot", ["doneTiltDeg"] = 30, ["maxEpisodeSteps"] = MaxEpisodeSteps, ["complementaryAlpha"] = 0.98 },
            ["imu"] = new JsonObject
            {
                ["address"] = 104, ["accelRangeG"] = 4, ["gyroRangeDps"] = 500, ["calibrationSamples"] = 0,
                ["mounting"] = new JsonObject { ["forward"] = "+x", ["up"] = "+z" },
            },
            ["pca9685"] = new JsonObject { ["address"] = 64, ["frequencyHz"] = 1000 },
            ["motors"] = new JsonArray(
                new JsonObject { ["name"] = "left", ["pwmSource"] = "pca9685", ["pwmChannel"] = 0, ["in1Pin"] = 5, ["in2Pin"] = 6 },
                new JsonObject { ["name"] = "right", ["pwmSource"] = "pca9685", ["pwmChannel"] = 1, ["in1Pin"] = 20, ["in2Pin"] = 21, ["inverted"] = true }),
            ["encoders"] = new JsonArray(
                new JsonObject { ["name"] = "left", ["pinA"] = 17, ["pinB"] = 27, ["countsPerRevolution"] = 1320 },
                new JsonObject { ["name"] = "right", ["pinA"] = 22, ["pinB"] = 23, ["countsPerRevolution"] = 1320, ["inverted"] = true }),
            ["safety"] = new JsonObject { ["maxAction"] = 1.0, ["maxActionRatePerS"] = 40, ["tiltLimitDeg"] = 35, ["staleSensorPeriods"] = 5, ["i2cRetries"] = 2 },
            ["policy"] = new JsonObject { ["hiddenSizes"] = new JsonArray(64, 64), ["deterministic"] = false, ["seed"] = seed },
            ["log"] = new JsonObject { ["directory"] = "logs", ["rotateBytes"] = 67108864, ["ringRecords"] = 8192 },
            ["telemetry"] = new JsonObject { ["enabled"] = true, ["rateHz"] = 2 },
            ["learning"] = new JsonObject
            {
                ["algorithm"] = algorithm, ["batchSteps"] = 1024, ["checkpointDirectory"] = "checkpoints",
                ["checkpointEveryUpdates"] = 5, ["checkpointEveryEpisodes"] = 50,
                // The simulator stands the robot up itself: take it at once, still falling gently (motors are off while waiting).
                ["resetHoldSeconds"] = 0, ["resetUprightDeg"] = 15, ["resetStillRadPerS"] = 3,
            },
        };
        if (checkpoint is not null) json["policy"]!["checkpoint"] = checkpoint;
        return json;
    }
}
