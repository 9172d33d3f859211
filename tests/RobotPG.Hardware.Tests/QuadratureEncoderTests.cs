using System.Device.Gpio;
using System.Diagnostics;
using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Hardware.Tests;

public sealed class QuadratureEncoderTests
{
    private const int A = 17, B = 27, Cpr = 1440;

    private static (EmulatedGpioDriver Pins, QuadratureEncoderEmulator Shaft, QuadratureEncoder Encoder) Bench(QuadratureEncoderOptions? options = null)
    {
        var pins = new EmulatedGpioDriver();
        var shaft = new QuadratureEncoderEmulator(pins, A, B, Cpr);
        var encoder = new QuadratureEncoder(new GpioController(pins), A, B, options ?? new QuadratureEncoderOptions { CountsPerRevolution = Cpr });
        return (pins, shaft, encoder);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    [InlineData(-1)]
    [InlineData(-777)]
    public void Counts_follow_the_shaft_both_ways(long counts)
    {
        var (_, shaft, encoder) = Bench();
        shaft.Advance(counts);
        Assert.Equal(counts, encoder.Count);
        Assert.Equal(Math.Abs(counts), encoder.Edges);
        Assert.Equal(0, encoder.IllegalTransitions);
    }

    [Fact]
    public void Back_and_forth_returns_to_zero_and_angle_matches()
    {
        var (_, shaft, encoder) = Bench();
        shaft.Advance(500);
        shaft.Advance(-1234);
        shaft.Advance(734);
        Assert.Equal(0, encoder.Count);
        shaft.SetShaftAngle(Math.PI / 2 + 1e-9);
        Assert.Equal(Cpr / 4, encoder.Count);
        Assert.Equal(Math.PI / 2, encoder.Angle, 12);
    }

    [Fact]
    public void Inverted_encoder_counts_negative()
    {
        var (_, shaft, encoder) = Bench(new QuadratureEncoderOptions { CountsPerRevolution = Cpr, Inverted = true });
        shaft.Advance(42);
        Assert.Equal(-42, encoder.Count);
    }

    [Fact]
    public void Both_channels_changing_together_is_an_illegal_transition_and_not_counted()
    {
        var pins = new EmulatedGpioDriver();
        var shaft = new QuadratureEncoderEmulator(pins, A, B, Cpr);
        // A glitch: every time A rises, B flips within the same instant, before the decoder has read
        // anything. Subscribed before the encoder, so it runs first.
        var glitch = new GpioController(pins);
        glitch.OpenPin(A, PinMode.Input);
        bool armed = false;
        glitch.RegisterCallbackForPinValueChangedEvent(A, PinEventTypes.Rising, (_, _) =>
        {
            if (!armed) return;
            armed = false;
            pins.DriveInput(B, !pins.Level(B));
        });
        var encoder = new QuadratureEncoder(new GpioController(pins), A, B, new QuadratureEncoderOptions { CountsPerRevolution = Cpr });

        shaft.Advance(8);
        Assert.Equal(8, encoder.Count);
        Assert.Equal(0, encoder.IllegalTransitions);

        // State 00 (count 8). Arm the glitch and step once: A rises and B rises with it → 00 → 11.
        armed = true;
        shaft.Advance(1);
        Assert.Equal(1, encoder.IllegalTransitions);
        Assert.Equal(8, encoder.Count); // the jump is not counted: its direction is unknown
    }

    [Fact]
    public void Velocity_is_counts_over_time_in_radians_per_second()
    {
        var (_, shaft, encoder) = Bench(new QuadratureEncoderOptions { CountsPerRevolution = Cpr, VelocityWindow = 1 });
        long t = 1_000_000;
        long tenMs = Stopwatch.Frequency / 100;
        encoder.SampleVelocity(t);
        shaft.Advance(36);
        double v = encoder.SampleVelocity(t + tenMs);
        // 36 counts in 10 ms at 1440 counts/rev: 36/1440 · 2π / 0.01 s.
        Assert.Equal(36.0 / Cpr * 2 * Math.PI / 0.01, v, 9);

        shaft.Advance(-72);
        Assert.Equal(-72.0 / Cpr * 2 * Math.PI / 0.01, encoder.SampleVelocity(t + 2 * tenMs), 9);
        // The same timestamp again (a stale sample) keeps the estimate.
        Assert.Equal(-72.0 / Cpr * 2 * Math.PI / 0.01, encoder.SampleVelocity(t + 2 * tenMs), 9);
    }

    [Fact]
    public void Velocity_window_averages_over_several_samples()
    {
        var (_, shaft, encoder) = Bench(new QuadratureEncoderOptions { CountsPerRevolution = Cpr, VelocityWindow = 4 });
        long period = Stopwatch.Frequency / 1000;
        int[] steps = [1, 0, 2, 1, 0, 1, 3, 0];
        for (int i = 0; i < steps.Length; i++)
        {
            shaft.Advance(steps[i]);
            encoder.SampleVelocity(i * period);
        }
        // Last 4 intervals: samples 3..7 → counts moved 1+0+... = steps[4..7] summed over 4 ms.
        double expected = (0 + 1 + 3 + 0) / (double)Cpr * 2 * Math.PI / 0.004;
        Assert.Equal(expected, encoder.Velocity, 9);
    }

    [Fact]
    public void Counts_read_from_another_thread_while_edges_arrive_are_exact_at_the_end()
    {
        var (_, shaft, encoder) = Bench();
        long maxSeen = 0;
        var producer = Task.Run(() => { for (int i = 0; i < 20_000; i++) shaft.Advance(1); });
        while (!producer.IsCompleted) maxSeen = Math.Max(maxSeen, encoder.Count);
        producer.GetAwaiter().GetResult();
        Assert.Equal(20_000, encoder.Count);
        Assert.InRange(maxSeen, 0, 20_000);
    }

    [Fact]
    public void Dispose_unregisters_and_closes_the_pins()
    {
        var (pins, shaft, encoder) = Bench();
        encoder.Dispose();
        Assert.False(pins.IsOpen(A));
        shaft.Advance(10);
        Assert.Equal(0, encoder.Count);
    }

    [Fact]
    public void Reading_counts_and_velocity_allocates_nothing()
    {
        var (_, shaft, encoder) = Bench();
        shaft.Advance(5);
        long t = 0;
        for (int i = 0; i < 100; i++) encoder.SampleVelocity(t += 1000);
        long sum = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) { sum += encoder.Count; encoder.SampleVelocity(t += 1000); }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(50_000, sum);
    }
}
