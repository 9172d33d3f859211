using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Networks;

namespace RobotPG.Controller.Cli;

/// <summary>
/// <c>robotpg timing</c>: the real loop (balance-bot task, a 64×64 Gaussian policy sampling
/// actions, safety filter, trajectory log to a temporary directory) over a robot standing still,
/// to measure this machine: step latency, period error, overruns, allocation, start-up, RSS.
/// </summary>
public static class LoopTimingCommand
{
    public static Command Create()
    {
        var rate = new Option<double>("--rate") { Description = "Control rate, Hz.", DefaultValueFactory = _ => 1000 };
        var duration = new Option<double>("--duration") { Description = "Seconds to run.", DefaultValueFactory = _ => 2 };
        var command = new Command("timing", "Run the control loop against a standing, motorless robot and report step latency, period error, allocation, start-up and RSS (no hardware needed).");
        command.Options.Add(rate);
        command.Options.Add(duration);
        command.SetAction(parseResult => Run(parseResult.GetValue(rate), parseResult.GetValue(duration),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(double rateHz, double durationSeconds, TextWriter output, TextWriter error)
    {
        if (!(rateHz > 0 && rateHz <= 10_000) || !(durationSeconds > 0 && durationSeconds <= 86_400))
        {
            error.WriteLine("robotpg: --rate must be in (0, 10000] Hz and --duration in (0, 86400] s");
            return RobotPgCli.ExitUsage;
        }
        var task = new BalanceBotTask(
            new TaskConfig { Kind = TaskKind.BalanceBot, DoneTiltDeg = 30, MaxEpisodeSteps = 1_000_000, ComplementaryAlpha = 0.98 },
            new ImuConfig { Address = 0x68, AccelRangeG = 4, GyroRangeDps = 500, CalibrationSamples = 0, Mounting = new ImuMounting { Forward = ImuAxis.PlusX, Up = ImuAxis.PlusZ } },
            [new EncoderConfig { Name = "left", PinA = 17, PinB = 27, CountsPerRevolution = 1320 }, new EncoderConfig { Name = "right", PinA = 22, PinB = 23, CountsPerRevolution = 1320 }]);
        var policy = ControlPolicy.FromNetwork(new GaussianPolicy(4, 2, [64, 64], maxBatch: 1, seed: 1), normalizer: null, deterministic: false, "timing 64×64");
        var safety = new SafetySupervisor(
            new SafetyConfig { MaxAction = 1, MaxActionRatePerS = 1e5, TiltLimitDeg = 35, StaleSensorPeriods = 5, I2cRetries = 2 }, rateHz, 2);
        string logDirectory = Path.Combine(Path.GetTempPath(), "robotpg-timing-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var ring = new TrajectoryRing(4, 2, 1 << 16);
        long steps = (long)Math.Round(rateHz * durationSeconds);
        long warmup = Math.Min(1000, steps / 10);
        using var io = new StandingRobotIo(2, 2);
        var loop = new ControlLoop(io, task, new PolicyExchange(policy), safety, rateHz, 1_000_000, 1, ring);
        try
        {
            using (var writer = new TrajectoryLogWriter(ring, logDirectory, 1L << 30, "timing", policy.Hash, DateTimeOffset.UtcNow))
            {
                loop.Start(steps, warmup);
                loop.Join(Timeout.InfiniteTimeSpan);
                writer.Flush(TimeSpan.FromSeconds(30));
            }
            double startupMs = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds
                - Stopwatch.GetElapsedTime(loop.FirstStepTimestamp).TotalMilliseconds;
            var inv = CultureInfo.InvariantCulture;
            output.WriteLine(string.Create(inv, $"timing: {loop.StepCount} steps at {rateHz} Hz ({durationSeconds} s), 64×64 policy, log on, {(loop.RealtimeScheduled ? "SCHED_FIFO" : "normal priority")}"));
            output.WriteLine(string.Create(inv, $"step latency: p50 {loop.StepLatency.Percentile(0.5)} µs, p99 {loop.StepLatency.Percentile(0.99)} µs, max {loop.StepLatency.MaxMicroseconds:F1} µs (1 µs buckets, upper edges)"));
            output.WriteLine(string.Create(inv, $"period error: p50 {loop.PeriodError.Percentile(0.5)} µs, p99 {loop.PeriodError.Percentile(0.99)} µs, max {loop.PeriodError.MaxMicroseconds:F1} µs; overruns {loop.Counters.Overruns}; log drops {ring.Dropped}"));
            output.WriteLine(string.Create(inv, $"allocated after warm-up: {loop.AllocatedBytesAfterWarmup} bytes over {loop.StepsMeasured} steps"));
            output.WriteLine(string.Create(inv, $"start-up to first step: {startupMs:F1} ms; RSS {Environment.WorkingSet / (1024.0 * 1024.0):F1} MiB"));
            return RobotPgCli.ExitOk;
        }
        finally
        {
            try
            {
                Directory.Delete(logDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A temp directory; leaving it is harmless.
            }
        }
    }
}
