using System.Diagnostics;
using System.Globalization;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Hardware;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;

namespace RobotPG.Controller.SelfTest;

/// <summary>
/// <c>robotpg selftest</c> without hardware: the policy forward (µs each), one timed update of each
/// on-device algorithm on a small synthetic batch after a warm-up one (ms each; the parameters must move and stay
/// finite), the MPU-6050 and PCA9685 drivers against register fakes, and the trajectory log's
/// write → power cut → read round trip. Every check runs even after one fails; a check's failure
/// names what broke.
/// </summary>
public static class SelfTestSuite
{
    /// <summary>Shapes of the balance-bot task, which the Pi runs: 4 observations, 2 motors, a 64×64 policy.</summary>
    public const int ObservationSize = 4, ActionSize = 2;

    private static readonly int[] HiddenSizes = [64, 64];

    /// <summary>Runs every check; <paramref name="progress"/> gets one line per check as it finishes.</summary>
    public static SelfTestReport Run(SelfTestOptions options, TextWriter? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is string problem) throw new ArgumentException(problem, nameof(options));
        var report = new SelfTestReport();
        Record(report, progress, "policy forward", () => PolicyForward(options));
        foreach (string algorithm in options.Algorithms)
            Record(report, progress, "update " + algorithm, () => AlgorithmUpdate(algorithm, options.Seed));
        Record(report, progress, "driver MPU-6050", Mpu6050Decode);
        Record(report, progress, "driver PCA9685", Pca9685PrescaleAndDuty);
        Record(report, progress, "log round trip", () => LogRoundTrip(options));
        return report;
    }

    /// <summary>A check's outcome: its headline figure and the line that explains it.</summary>
    private readonly record struct Outcome(double Figure, string Detail);

    /// <summary>Thrown by a check whose assertion does not hold.</summary>
    private sealed class CheckFailedException(string message) : Exception(message);

    private static void Record(SelfTestReport report, TextWriter? progress, string name, Func<Outcome> check)
    {
        SelfTestCheck result;
        try
        {
            Outcome outcome = check();
            result = new SelfTestCheck(name, true, outcome.Detail, outcome.Figure);
        }
        catch (Exception e)
        {
            // A selftest reports every failure as a named check; nothing escapes to the caller.
            string reason = e is CheckFailedException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            result = new SelfTestCheck(name, false, reason.ReplaceLineEndings(" "), double.NaN);
        }
        report.Add(result);
        progress?.WriteLine(Line(result));
    }

    /// <summary>"ok   name: detail" or "FAIL name: reason" — one line per check.</summary>
    public static string Line(SelfTestCheck check) => $"{(check.Passed ? "ok  " : "FAIL")} {check.Name}: {check.Detail}";

    private static void Require(bool condition, string failure)
    {
        if (!condition) throw new CheckFailedException(failure);
    }

    private static Outcome PolicyForward(SelfTestOptions options)
    {
        var policy = new GaussianPolicy(ObservationSize, ActionSize, HiddenSizes, maxBatch: 1, seed: options.Seed);
        Span<float> observation = [0.05f, -0.3f, 1.2f, -0.7f];
        Span<float> mean = stackalloc float[ActionSize];
        Span<float> again = stackalloc float[ActionSize];
        policy.Mean(observation, mean);
        for (int j = 0; j < ActionSize; j++) Require(float.IsFinite(mean[j]), $"μ[{j}] = {mean[j]} is not finite");
        int warmup = Math.Min(options.Forwards, 1000);
        for (int i = 0; i < warmup; i++) policy.Mean(observation, again);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < options.Forwards; i++) policy.Mean(observation, again);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        // Same input, same parameters: a forward that drifts reads uninitialised or shared state.
        Require(again.SequenceEqual(mean), $"the same observation gave ({mean[0]}, {mean[1]}) then ({again[0]}, {again[1]})");
        Require(allocated == 0, $"{allocated} bytes allocated over {options.Forwards} forwards (must be 0)");
        double microseconds = elapsed.TotalMicroseconds / options.Forwards;
        return new Outcome(microseconds, string.Create(CultureInfo.InvariantCulture,
            $"{microseconds:F2} µs per forward (4→64→64→2, mean {options.Forwards} forwards), 0 bytes allocated"));
    }

    private static Outcome AlgorithmUpdate(string name, ulong seed)
    {
        var context = new AlgorithmContext(ObservationSize, ActionSize, "balance-bot", seed);
        IPolicyGradientAlgorithm algorithm = CreateSmall(name, context);
        // The first update sizes its buffers; the robot's learner lives in the steady state after it,
        // so time the second, on a fresh batch collected with the updated policy.
        algorithm.Update(SyntheticRollout(algorithm, seed), 1, 2);
        RolloutBuffer rollout = SyntheticRollout(algorithm, seed + 1);
        float[] policyBefore = algorithm.Agent.Policy.Parameters.ToArray();
        float[] valueBefore = algorithm.Agent.Value.Parameters.ToArray();
        long start = Stopwatch.GetTimestamp();
        UpdateDiagnostics diagnostics = algorithm.Update(rollout, 2, 2);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        ReadOnlySpan<float> policyAfter = algorithm.Agent.Policy.Parameters;
        ReadOnlySpan<float> valueAfter = algorithm.Agent.Value.Parameters;
        int firstNonFinite = IndexOfNonFinite(policyAfter);
        Require(firstNonFinite < 0, $"policy parameter {firstNonFinite} is {(firstNonFinite < 0 ? 0 : policyAfter[firstNonFinite])} after the update");
        firstNonFinite = IndexOfNonFinite(valueAfter);
        Require(firstNonFinite < 0, $"value parameter {firstNonFinite} is {(firstNonFinite < 0 ? 0 : valueAfter[firstNonFinite])} after the update");
        int changed = CountChanged(policyBefore, policyAfter);
        Require(changed > 0, $"the update left all {policyBefore.Length} policy parameters unchanged");
        double milliseconds = elapsed.TotalMilliseconds;
        string kl = float.IsNaN(diagnostics.ApproxKl) ? "" : string.Create(CultureInfo.InvariantCulture, $", approx KL {diagnostics.ApproxKl:G3}");
        return new Outcome(milliseconds, string.Create(CultureInfo.InvariantCulture,
            $"{milliseconds:F2} ms per update ({rollout.Capacity} steps, after a warm-up update), {changed}/{policyBefore.Length} policy parameters moved{(CountChanged(valueBefore, valueAfter) > 0 ? ", critic moved" : "")}{kl}, all finite"));
    }

    /// <summary>
    /// The algorithm exactly as the robot's learner builds it (<see cref="OnDeviceAlgorithms"/>: one
    /// environment, no annealing, the balance-bot's shapes) with a small batch of 256 steps.
    /// </summary>
    private static IPolicyGradientAlgorithm CreateSmall(string name, in AlgorithmContext context)
    {
        try
        {
            return OnDeviceAlgorithms.Create(new LearningOptions { Algorithm = name, BatchSteps = 256, Seed = context.Seed },
                context.ObservationSize, context.ActionSize, HiddenSizes, context.EnvironmentName);
        }
        catch (ArgumentException e)
        {
            throw new CheckFailedException(e.Message);
        }
    }

    /// <summary>
    /// A rollout collected from a contextual bandit-like task: observations ~ N(0, 1), actions sampled
    /// from the agent's policy with their log-probs and values, reward −‖a − ½s₀‖² (so every estimator
    /// sees a gradient), episodes of 16 steps ending in termination.
    /// </summary>
    private static RolloutBuffer SyntheticRollout(IPolicyGradientAlgorithm algorithm, ulong seed)
    {
        RolloutSettings shape = algorithm.Rollout;
        var rollout = new RolloutBuffer(shape.StepsPerEnvironment, shape.EnvironmentCount, ObservationSize, ActionSize);
        ActorCritic agent = algorithm.Agent;
        var prng = new Prng(seed ^ 0x5E1F_7E57UL);
        for (int t = 0; t < shape.StepsPerEnvironment; t++)
        {
            for (int e = 0; e < shape.EnvironmentCount; e++)
            {
                int i = rollout.IndexOf(t, e);
                Span<float> observation = rollout.Observation(i);
                for (int k = 0; k < observation.Length; k++) observation[k] = (float)prng.NextGaussian();
                Span<float> action = rollout.Action(i);
                float logProb = agent.Policy.Sample(observation, action, ref prng);
                float reward = 0;
                for (int j = 0; j < action.Length; j++)
                {
                    float miss = action[j] - 0.5f * observation[0];
                    reward -= miss * miss;
                }
                rollout.Record(i, logProb, agent.Value.Predict(observation), reward, terminated: t % 16 == 15, truncated: false);
            }
        }
        Span<float> last = stackalloc float[ObservationSize];
        for (int e = 0; e < shape.EnvironmentCount; e++)
        {
            for (int k = 0; k < last.Length; k++) last[k] = (float)prng.NextGaussian();
            rollout.LastValues[e] = agent.Value.Predict(last);
        }
        return rollout;
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    private static int CountChanged(ReadOnlySpan<float> before, ReadOnlySpan<float> after)
    {
        int changed = 0;
        for (int i = 0; i < before.Length; i++)
            if (before[i] != after[i]) changed++;
        return changed;
    }

    /// <summary>
    /// The real <see cref="Mpu6050"/> driver against its register fake at ±4 g / ±500 °/s: initialisation
    /// must leave the chip awake on the gyro PLL with both ranges written, and a burst must decode to
    /// the datasheet's scales (8192 LSB/g, 65.5 LSB/(°/s), raw/340 + 36.53 °C).
    /// </summary>
    private static Outcome Mpu6050Decode()
    {
        using var chip = new Mpu6050RegisterFake();
        using var imu = new Mpu6050(chip, new Mpu6050Options
        {
            AccelRange = Mpu6050AccelRange.PlusMinus4G,
            GyroRange = Mpu6050GyroRange.PlusMinus500DegreesPerSecond,
            ResetDelay = TimeSpan.Zero,
            GyroCalibrationSamples = 0,
        });
        imu.Initialize();
        Require(chip[0x6B] == 0x01, $"PWR_MGMT_1 is 0x{chip[0x6B]:X2} after initialisation (0x01: awake on the X-gyro PLL)");
        Require(chip[0x1B] == 0x08 && chip[0x1C] == 0x08, $"GYRO_CONFIG 0x{chip[0x1B]:X2}, ACCEL_CONFIG 0x{chip[0x1C]:X2} (0x08 for ±500 °/s and ±4 g)");
        // 1 g on +z, −0.5 g on x; +100 °/s about y, −6550 LSB = −100 °/s about z; 25.0 °C = (25 − 36.53)·340 = −3920 LSB.
        chip.SetSample(-4096, 0, 8192, -3920, 0, 6550, -6550);
        var frame = new SensorFrame(0);
        long start = Stopwatch.GetTimestamp();
        imu.Read(frame);
        double microseconds = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        const double G = 9.80665, DegreesToRadians = Math.PI / 180;
        RequireNear("accel x", frame.AccelX, -0.5 * G, 1e-5);
        RequireNear("accel y", frame.AccelY, 0, 0);
        RequireNear("accel z", frame.AccelZ, G, 1e-5);
        RequireNear("gyro y", frame.GyroY, 100 * DegreesToRadians, 1e-5);
        RequireNear("gyro z", frame.GyroZ, -100 * DegreesToRadians, 1e-5);
        RequireNear("temperature", frame.TemperatureC, 25.0, 1e-3);
        return new Outcome(microseconds, string.Create(CultureInfo.InvariantCulture,
            $"WHO_AM_I, reset, wake, ranges ok; burst decodes to the datasheet scales (az {frame.AccelZ:F4} m/s², gy {frame.GyroY:F4} rad/s, {frame.TemperatureC:F2} °C)"));
    }

    /// <summary>|actual − expected| ≤ tolerance·max(1, |expected|): float32 decode of exact datasheet values.</summary>
    private static void RequireNear(string what, double actual, double expected, double tolerance) =>
        Require(Math.Abs(actual - expected) <= tolerance * Math.Max(1, Math.Abs(expected)),
            string.Create(CultureInfo.InvariantCulture, $"{what} decodes to {actual}, expected {expected}"));

    /// <summary>
    /// The real <see cref="Pca9685"/> driver against its register fake: PRE_SCALE = round(25 MHz / (4096·f)) − 1
    /// (5 at 1 kHz, 121 at 50 Hz), written while asleep; duty 0.25 → ON 0, OFF 1024; 1 → full on; 0 → full off.
    /// </summary>
    private static Outcome Pca9685PrescaleAndDuty()
    {
        using var chip = new Pca9685RegisterFake();
        using var pwm = new Pca9685(chip, new Pca9685Options { FrequencyHz = 1000, OscillatorStartup = TimeSpan.Zero });
        pwm.Initialize();
        Require(chip.PrescaleRegister == 5, $"PRE_SCALE is {chip.PrescaleRegister} at 1000 Hz (datasheet: round(25e6 / 4096000) − 1 = 5)");
        Require((chip[0x00] & 0x10) == 0, $"MODE1 is 0x{chip[0x00]:X2}: the oscillator is still asleep");
        pwm.SetFrequency(50);
        Require(chip.PrescaleRegister == 121, $"PRE_SCALE is {chip.PrescaleRegister} at 50 Hz (datasheet: round(25e6 / 204800) − 1 = 121)");
        pwm.SetFrequency(1000);
        long start = Stopwatch.GetTimestamp();
        pwm.SetDutyCycle(3, 0.25);
        double microseconds = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        Require(chip.OnCount(3) == 0 && chip.OffCount(3) == 1024 && !chip.FullOn(3) && !chip.FullOff(3),
            $"duty 0.25 on channel 3 gave ON {chip.OnCount(3)}, OFF {chip.OffCount(3)} (expected 0 and 1024)");
        pwm.SetDutyCycle(4, 1.0);
        Require(chip.DutyCycle(4) == 1.0, $"duty 1 on channel 4 reads back as {chip.DutyCycle(4)} (expected full on)");
        pwm.SetDutyCycle(3, 0);
        Require(chip.DutyCycle(3) == 0.0, $"duty 0 on channel 3 reads back as {chip.DutyCycle(3)} (expected full off)");
        Require(chip.DutyCycle(5) == 0.0, $"channel 5, never driven, has duty {chip.DutyCycle(5)}");
        return new Outcome(microseconds, string.Create(CultureInfo.InvariantCulture,
            $"PRE_SCALE 5 at 1 kHz ({pwm.FrequencyHz:F1} Hz actual), 121 at 50 Hz; duty 0.25 → OFF 1024, 1 → full on, 0 → full off"));
    }

    /// <summary>
    /// Writes <see cref="SelfTestOptions.LogRecords"/> known records through the ring and the writer thread,
    /// cuts the file in the middle of a record (a power cut), and reads it back: every complete record
    /// bit-exact, the torn tail counted, nothing corrupt.
    /// </summary>
    private static Outcome LogRoundTrip(SelfTestOptions options)
    {
        string directory = Path.Combine(options.TemporaryDirectory,
            "robotpg-selftest-log-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture));
        int n = options.LogRecords;
        var ring = new TrajectoryRing(ObservationSize, ActionSize, n);
        Span<float> observation = stackalloc float[ObservationSize];
        Span<float> action = stackalloc float[ActionSize];
        try
        {
            string file;
            long start = Stopwatch.GetTimestamp();
            using (var writer = new TrajectoryLogWriter(ring, directory, 1L << 40, "selftest", 0x5E1F_7E57UL, DateTimeOffset.UtcNow))
            {
                for (int k = 0; k < n; k++)
                {
                    KnownRecord(k, observation, action);
                    Require(ring.TryAppend(k, k * 5_000_000L, observation, action, -0.001f * k, 0.5f * k, KnownFlags(k)), $"the ring refused record {k}");
                }
                Require(writer.Flush(TimeSpan.FromSeconds(60)), $"the log writer did not flush {n} records within 60 s ({writer.LastError ?? "no error reported"})");
                Require(writer.RecordsWritten == n && writer.WriteErrors == 0,
                    $"{writer.RecordsWritten} of {n} records written, {writer.WriteErrors} write errors ({writer.LastError})");
                file = writer.Files.Count == 1 ? writer.Files[0] : throw new CheckFailedException($"{writer.Files.Count} log files for {n} records (expected 1)");
            }
            double writeMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;

            int recordSize = TrajectoryLogFormat.RecordSize(ObservationSize, ActionSize);
            long complete = TrajectoryLogFormat.HeaderSize + (long)n * recordSize;
            long length = new FileInfo(file).Length;
            Require(length == complete, $"the log holds {length} bytes, expected {complete} (header + {n} × {recordSize})");
            int kept = n * 7 / 10, torn = recordSize / 2;
            using (var cut = new FileStream(file, FileMode.Open, FileAccess.Write)) cut.SetLength(TrajectoryLogFormat.HeaderSize + (long)kept * recordSize + torn);

            using var reader = TrajectoryLogReader.Open(file);
            Require(reader.Header.RobotId == "selftest" && reader.Header.PolicyHash == 0x5E1F_7E57UL, "the header does not read back as written");
            int read = 0;
            while (reader.TryReadNext(out TrajectoryRecord record))
            {
                KnownRecord(read, observation, action);
                Require(record.Step == read && record.TimeNs == read * 5_000_000L && record.Flags == KnownFlags(read)
                        && record.LogProb == -0.001f * read && record.Reward == 0.5f * read
                        && observation.SequenceEqual(record.Observation) && action.SequenceEqual(record.Action),
                    $"record {read} does not read back as written (step {record.Step})");
                read++;
            }
            Require(read == kept && reader.ValidRecords == kept, $"{read} records read after the cut, expected {kept}");
            Require(reader.TornTailBytes == torn, $"torn tail of {reader.TornTailBytes} bytes, expected {torn}");
            Require(reader.CorruptRecords == 0, $"{reader.CorruptRecords} corrupt records");
            return new Outcome(writeMs, string.Create(CultureInfo.InvariantCulture,
                $"{n} records written and fsynced in {writeMs:F1} ms; cut mid-record: {kept} complete records read back bit-exact, torn tail {torn} bytes"));
        }
        finally
        {
            try
            {
                if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // A temporary folder: leaving it behind is harmless.
            }
        }
    }

    private static void KnownRecord(int k, Span<float> observation, Span<float> action)
    {
        observation[0] = k;
        observation[1] = k + 0.25f;
        observation[2] = -k;
        observation[3] = 1f / (k + 1);
        action[0] = MathF.Sin(k);
        action[1] = -MathF.Cos(k);
    }

    private static TransitionFlags KnownFlags(int k) => k % 100 == 99 ? TransitionFlags.Terminated : TransitionFlags.None;
}
