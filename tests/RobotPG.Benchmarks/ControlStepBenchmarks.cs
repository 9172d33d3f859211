using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Networks;

namespace RobotPG.Benchmarks;

/// <summary>
/// One control step (sensor read → balance-bot task → 64×64 Gaussian policy sample → safety filter
/// → drive → log-ring append), the controller's hot path, against a robot standing still; the log
/// writer drains the ring to a temporary file on its own thread, as in a run. Target: ≤ 5 µs median.
/// </summary>
[MemoryDiagnoser]
public class ControlStepBenchmarks
{
    private ControlLoop _loop = null!;
    private TrajectoryLogWriter _writer = null!;
    private string _directory = null!;

    [Params(false, true)]
    public bool ZeroPolicy { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var task = new BalanceBotTask(
            new TaskConfig { Kind = TaskKind.BalanceBot, DoneTiltDeg = 30, MaxEpisodeSteps = int.MaxValue, ComplementaryAlpha = 0.98 },
            new ImuConfig { Address = 0x68, AccelRangeG = 4, GyroRangeDps = 500, CalibrationSamples = 0, Mounting = new ImuMounting { Forward = ImuAxis.PlusX, Up = ImuAxis.PlusZ } },
            [new EncoderConfig { Name = "l", PinA = 17, PinB = 27, CountsPerRevolution = 1320 }, new EncoderConfig { Name = "r", PinA = 22, PinB = 23, CountsPerRevolution = 1320 }]);
        var policy = ZeroPolicy
            ? ControlPolicy.Zero(4, 2)
            : ControlPolicy.FromNetwork(new GaussianPolicy(4, 2, [64, 64], maxBatch: 1, seed: 1), null, deterministic: false, "bench");
        var safety = new SafetySupervisor(new SafetyConfig { MaxAction = 1, MaxActionRatePerS = 1e5, TiltLimitDeg = 35, StaleSensorPeriods = 5, I2cRetries = 2 }, 1000, 2);
        var ring = new TrajectoryRing(4, 2, 1 << 16);
        _directory = Path.Combine(Path.GetTempPath(), "robotpg-bench-" + Guid.NewGuid().ToString("N"));
        _writer = new TrajectoryLogWriter(ring, _directory, 1L << 32, "bench", policy.Hash, DateTimeOffset.UtcNow);
        _loop = new ControlLoop(new StandingRobotIo(2, 2), task, new PolicyExchange(policy), safety, 1000, int.MaxValue, 1, ring);
    }

    [Benchmark]
    public void ControlStep() => _loop.Step(Stopwatch.GetTimestamp());

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
