using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Learning;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Robots;

namespace RobotPG.Sim.Fleet;

public sealed record FleetRunOptions
{
    public required string Broker { get; init; }
    public int Robots { get; init; } = 2;
    public int Learners { get; init; } = 1;
    public string FleetName { get; init; } = "sim";
    public ulong Seed { get; init; } = 1;
    public required string OutputDirectory { get; init; }
    public string? PhysicsDirectory { get; init; }
    public double ControlRateHz { get; init; } = 50;
    public int MaxEpisodeSteps { get; init; } = 500;
    /// <summary>Balanced: the fleet's mean episode (last 10 of each robot) reaches this fraction of the cap.</summary>
    public double BalancedFraction { get; init; } = 1.0;
    /// <summary>Budget of control steps per robot.</summary>
    public long MaxStepsPerRobot { get; init; } = 200_000;
    public int BatchTransitions { get; init; } = 100;
    public int LearnerBatchSteps { get; init; } = 1024;
    public int MaxStaleVersions { get; init; } = 4;
    /// <summary>Kill learner 0 once the fleet has run this many steps per robot (0: never).</summary>
    public long KillLearnerAtStepsPerRobot { get; init; }
    public TextWriter? Progress { get; init; }
}

public sealed record FleetRunResult(
    bool Balanced, long RobotSteps, double RobotSeconds, double WallSeconds, double FleetMeanEpisodeLength,
    ulong[] RobotVersions, long[] RobotSwaps, long BatchesAcknowledged, long BatchesLostOnRobots, long BatchesConsumed, long BatchesStale,
    long BatchesMalformed, long BatchesAbandoned, long[] ConsumedPerLearner, bool[] LearnerKilled, ulong VersionAtKill, double MeanUpdateMs, IReadOnlyList<FleetEpisode> Episodes)
{
    /// <summary>Every batch the broker acknowledged was learned from or counted stale (or malformed, or abandoned by a killed learner).</summary>
    public long Unaccounted => BatchesAcknowledged - BatchesConsumed - BatchesStale - BatchesMalformed - BatchesAbandoned;
}

/// <summary>
/// <c>robotpg-sim fleet</c>: N domain-randomised simulated robots (each the controller's loop and fleet side
/// over an in-process balance bot, stepped in lockstep, round-robin on one thread) and L learners, all over
/// the given broker. Runs until the fleet balances or the budget is spent, prints progress, writes one
/// learning curve per robot and the fleet's (CSV).
/// </summary>
public sealed class FleetRun
{
    public const string FleetCurveFileName = "curve-fleet.csv";

    private const int Slice = 64;
    private readonly FleetRunOptions _o;

    public FleetRun(FleetRunOptions options) => _o = options;

    public async Task<FleetRunResult> RunAsync(CancellationToken cancel = default)
    {
        string outDir = Path.GetFullPath(_o.OutputDirectory);
        Directory.CreateDirectory(outDir);
        var physics = RobotPhysicsConfigLoader.LoadRobot("balance-bot", _o.PhysicsDirectory ?? Path.Combine(AppContext.BaseDirectory, "robots"));
        string keyDir = Path.Combine(outDir, "operator-key");
        if (!File.Exists(Path.Combine(keyDir, OperatorKey.PrivateKeyFileName)))
        {
            using var fresh = OperatorKey.Generate();
            fresh.Save(keyDir);
        }
        using var key = OperatorKey.Load(Path.Combine(keyDir, OperatorKey.PrivateKeyFileName));
        using var keys = SignatureVerifier.FromFiles([Path.Combine(keyDir, OperatorKey.PublicKeyFileName)]);
        var verifier = new OperatorFleetPolicyVerifier(keys, _o.FleetName);
        var signer = new OperatorFleetPolicySigner(key, _o.FleetName);
        var wall = Stopwatch.StartNew();

        var learners = new List<FleetLearner>();
        var robots = new List<FleetSimRobot>();
        var killed = new bool[_o.Learners];
        try
        {
            for (int k = 0; k < _o.Learners; k++)
            {
                var config = Config(outDir, $"learner-{k}", Path.Combine(keyDir, OperatorKey.PublicKeyFileName));
                var l = config.Learning!;
                var options = new LearningOptions { Algorithm = "ppo", BatchSteps = _o.LearnerBatchSteps, ValueHiddenSizes = l.ValueHiddenSizes ?? config.Policy.HiddenSizes, Seed = config.Policy.Seed };
                // Every learner starts from the same seeded initialisation, so the fleet has one version 1.
                var task = RobotPG.Controller.Tasks.ControlTasks.Create(config);
                var algorithm = OnDeviceAlgorithms.Create(options, task.ObservationSize, task.ActionSize, config.Policy.HiddenSizes, "balance-bot", offPolicyData: true);
                var core = new FleetLearnerCore(algorithm, signer, _o.MaxStaleVersions, options.MaxKl,
                    new LearnerCheckpoints(Path.Combine(outDir, $"learner-{k}", "checkpoints")), checkpointEveryUpdates: 5);
                string? resumed = core.Resume(out string? warning);
                if (warning is not null) _o.Progress?.WriteLine($"learner-{k}: {warning}");
                if (resumed is not null) _o.Progress?.WriteLine($"learner-{k}: resumed version {core.Version} from {resumed}");
                var endpoint = Endpoint($"robotpg-fleet-learner-{k}-{Environment.ProcessId}");
                var learner = new FleetLearner(core, verifier, endpoint, _o.FleetName, learnerId: $"learner-{k}");
                await learner.StartAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                learners.Add(learner);
            }
            for (int r = 0; r < _o.Robots; r++)
            {
                var config = Config(outDir, $"fleet-sim-{r}", Path.Combine(keyDir, OperatorKey.PublicKeyFileName));
                var robot = new FleetSimRobot(config, physics, _o.Seed + (ulong)r * 7919, Endpoint($"robotpg-fleet-sim-{r}-{Environment.ProcessId}"), verifier,
                    _o.BatchTransitions, RobotPG.Controller.Fleet.FleetLearning.DefaultMaxKl, wall);
                robots.Add(robot);
                await robot.StartAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            // Robots start on the learners' version 1 (retained), like a robot joining a running fleet.
            var joined = Stopwatch.StartNew();
            while (robots.Exists(r => r.Fleet.Receiver.Version == 0) && joined.Elapsed < TimeSpan.FromSeconds(10))
            {
                foreach (var r in robots) r.Run(1);
                await Task.Delay(10, cancel).ConfigureAwait(false);
            }

            _o.Progress?.WriteLine($"fleet '{_o.FleetName}': {_o.Robots} robots, {_o.Learners} learners on {_o.Broker}; balanced = mean episode ≥ {_o.BalancedFraction * _o.MaxEpisodeSteps / _o.ControlRateHz:F0} s");
            var lastPrint = Stopwatch.StartNew();
            bool balanced = false;
            ulong versionAtKill = 0;
            long perRobot = 0;
            while (!cancel.IsCancellationRequested && perRobot < _o.MaxStepsPerRobot)
            {
                foreach (var r in robots) r.Run(Slice);
                perRobot += Slice;
                await KeepPaceAsync(robots, learners, killed, cancel).ConfigureAwait(false);
                if (_o.KillLearnerAtStepsPerRobot > 0 && !killed[0] && perRobot >= _o.KillLearnerAtStepsPerRobot && learners.Count > 1)
                {
                    // Killed between batches: every batch the broker acknowledged so far reached a learner first.
                    await DrainAsync(robots, learners, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                    await learners[0].KillAsync().ConfigureAwait(false);
                    killed[0] = true;
                    versionAtKill = robots.Max(r => r.Fleet.Receiver.Version);
                    _o.Progress?.WriteLine($"[{wall.Elapsed.TotalSeconds,6:F1} s] learner-0 killed at version {learners[0].Core.Version}; the others carry on");
                }
                double mean = FleetMean(robots);
                if (mean >= _o.BalancedFraction * _o.MaxEpisodeSteps - 1e-9 && robots.TrueForAll(r => r.Episodes.Count >= 10))
                {
                    balanced = true;
                    break;
                }
                if (lastPrint.Elapsed.TotalSeconds >= 2)
                {
                    lastPrint.Restart();
                    ulong version = learners.Where((_, i) => !killed[i]).Select(l => l.Core.Version).DefaultIfEmpty(0UL).Max();
                    _o.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{wall.Elapsed.TotalSeconds,6:F1} s] {perRobot * robots.Count / _o.ControlRateHz,8:F0} robot-s  mean episode {mean / _o.ControlRateHz,5:F1} s  policy v{version}  robots on {string.Join(",", robots.Select(r => "v" + r.Fleet.Receiver.Version))}"));
                }
            }
            double wallSeconds = wall.Elapsed.TotalSeconds;
            await DrainAsync(robots, learners, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            var result = new FleetRunResult(
                balanced, robots.Sum(r => r.Steps), robots.Sum(r => r.Steps) / _o.ControlRateHz, wallSeconds, FleetMean(robots),
                robots.Select(r => r.Fleet.Receiver.Version).ToArray(), robots.Select(r => r.Fleet.Receiver.Count(RobotPG.Controller.Fleet.FleetPolicyVerdict.Accepted)).ToArray(),
                robots.Sum(r => r.BatchesAcknowledged), robots.Sum(r => r.BatchesLost),
                learners.Sum(l => l.Core.BatchesConsumed), learners.Sum(l => l.Core.BatchesStale), learners.Sum(l => l.Core.BatchesMalformed),
                learners.Sum(l => l.Abandoned), learners.Select(l => l.Core.BatchesConsumed).ToArray(), killed, versionAtKill,
                learners.Where(l => l.Core.Updates > 0).Select(l => l.Core.LastUpdateMs).DefaultIfEmpty(double.NaN).Average(),
                robots.SelectMany(r => r.Episodes).OrderBy(e => e.WallSeconds).ToList());
            WriteCurves(outDir, robots, result);
            _o.Progress?.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(balanced ? "balanced" : "not balanced")} after {result.RobotSeconds:F0} robot-s ({result.RobotSteps} steps) in {wallSeconds:F1} s wall; batches: {result.BatchesAcknowledged} acknowledged, {result.BatchesConsumed} learned from, {result.BatchesStale} stale, {result.BatchesAbandoned} abandoned, {result.Unaccounted} unaccounted; curves in {outDir}"));
            return result;
        }
        finally
        {
            foreach (var r in robots) await r.DisposeAsync().ConfigureAwait(false);
            for (int k = 0; k < learners.Count; k++)
                if (!killed[k]) await learners[k].DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Lockstep with the learners: simulated time stops while the learners hold more than about one update's
    /// worth of unlearned batches each, as it would for real robots whose learner keeps up. Without it the
    /// simulated robots (hundreds of times faster than real time) would run far ahead on old policies.
    /// </summary>
    private async Task KeepPaceAsync(List<FleetSimRobot> robots, List<FleetLearner> learners, bool[] killed, CancellationToken cancel)
    {
        int alive = killed.Count(k => !k);
        long allowance = Math.Max(2, alive * (long)Math.Ceiling((double)_o.LearnerBatchSteps / _o.BatchTransitions));
        while (!cancel.IsCancellationRequested)
        {
            long handed = robots.Sum(r => r.Fleet.Publisher.BatchesPublished);
            long done = learners.Sum(l => l.Core.BatchesConsumed + l.Core.BatchesStale + l.Core.BatchesMalformed + l.Abandoned);
            if (handed - done <= allowance) return;
            await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static double FleetMean(List<FleetSimRobot> robots) => robots.Average(r => r.MeanEpisodeLength());

    /// <summary>Ships every partial batch and waits until the learners took every batch the broker acknowledged.</summary>
    private static async Task DrainAsync(List<FleetSimRobot> robots, List<FleetLearner> learners, TimeSpan timeout)
    {
        foreach (var r in robots) await r.FlushAsync(timeout).ConfigureAwait(false);
        long acked = robots.Sum(r => r.BatchesAcknowledged);
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout
            && learners.Sum(l => l.Core.BatchesConsumed + l.Core.BatchesStale + l.Core.BatchesMalformed + l.Abandoned) < acked)
            await Task.Delay(10).ConfigureAwait(false);
    }

    private MqttEndpoint Endpoint(string clientId) =>
        MqttEndpoint.TryParse(_o.Broker, clientId, out string? error) ?? throw new ArgumentException($"--broker: {error}");

    private void WriteCurves(string outDir, List<FleetSimRobot> robots, FleetRunResult result)
    {
        foreach (var r in robots)
        {
            var sb = new StringBuilder("robot_steps,robot_s,return,length_steps,policy_version,wall_s\n");
            foreach (var e in r.Episodes)
                sb.Append(CultureInfo.InvariantCulture, $"{e.RobotSteps},{e.RobotSeconds:F2},{e.Return:F3},{e.Length},{e.PolicyVersion},{e.WallSeconds:F3}\n");
            File.WriteAllText(Path.Combine(outDir, $"curve-{r.Name}.csv"), sb.ToString());
        }
        // Robots advance round-robin in equal slices, so the fleet's robot-seconds at an episode's end are N × that robot's.
        var fleet = new StringBuilder("fleet_robot_s,robot,return,length_steps,policy_version,wall_s\n");
        foreach (var e in result.Episodes)
            fleet.Append(CultureInfo.InvariantCulture, $"{e.RobotSeconds * robots.Count:F2},{e.Robot},{e.Return:F3},{e.Length},{e.PolicyVersion},{e.WallSeconds:F3}\n");
        File.WriteAllText(Path.Combine(outDir, FleetCurveFileName), fleet.ToString());
    }

    /// <summary>A simulated fleet robot's controller config (the shipped balance bot at the run's rate), learning.mode fleet.</summary>
    private RobotConfig Config(string outDir, string robotId, string publicKey)
    {
        string dir = Path.Combine(outDir, robotId);
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, robotId + ".json");
        var json = new JsonObject
        {
            ["robotId"] = robotId,
            ["controlRateHz"] = _o.ControlRateHz,
            ["bus"] = new JsonObject { ["kind"] = "sim", ["i2cBusId"] = 1, ["broker"] = "mqtt://127.0.0.1:1883", ["clock"] = "lockstep" },
            ["task"] = new JsonObject { ["kind"] = "balance-bot", ["doneTiltDeg"] = 30, ["maxEpisodeSteps"] = _o.MaxEpisodeSteps, ["complementaryAlpha"] = 0.98 },
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
            ["policy"] = new JsonObject { ["hiddenSizes"] = new JsonArray(64, 64), ["deterministic"] = false, ["seed"] = _o.Seed },
            ["log"] = new JsonObject { ["directory"] = "logs", ["rotateBytes"] = 67108864, ["ringRecords"] = 8192 },
            ["telemetry"] = new JsonObject { ["enabled"] = false, ["rateHz"] = 2 },
            ["learning"] = new JsonObject
            {
                ["algorithm"] = "ppo", ["batchSteps"] = _o.LearnerBatchSteps, ["mode"] = "fleet",
                ["resetHoldSeconds"] = 0, ["resetUprightDeg"] = 15, ["resetStillRadPerS"] = 3,
                ["fleet"] = new JsonObject
                {
                    ["broker"] = "mqtt://127.0.0.1:1883", ["name"] = _o.FleetName, ["operatorPublicKey"] = publicKey,
                    ["batchTransitions"] = _o.BatchTransitions,
                },
            },
        };
        string text = json.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        File.WriteAllText(file, text);
        var loaded = ConfigLoader.Parse(file, text, dir);
        if (!loaded.Ok) throw new InvalidOperationException($"fleet config {file}: {string.Join("; ", loaded.Errors)}");
        return loaded.Config!;
    }
}
