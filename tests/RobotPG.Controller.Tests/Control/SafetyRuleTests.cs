using RobotPG.Controller.Control;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tests.Control;

/// <summary>Each safety rule triggered against a fake robot: the motors go off and the cause is counted.</summary>
public sealed class SafetyRuleTests
{
    // Sim config: 200 Hz, maxAction 1, maxActionRatePerS 40 → 0.2 per step, tilt limit 35°, stale 5 periods, 2 I2C retries.

    [Fact]
    public void Upright_robot_with_zero_policy_runs_without_a_trip()
    {
        var f = new LoopFixture();
        f.Steps(100);
        Assert.False(f.Safety.Tripped);
        Assert.Equal(100, f.Io.Drives);
        Assert.Equal(0, f.Io.Stops);
    }

    [Fact]
    public void Tilt_past_the_limit_stops_the_motors()
    {
        var f = new LoopFixture();
        f.Steps(10);
        f.Io.SetPitch(40 * Math.PI / 180);
        // The complementary filter (α = 0.98, no gyro rate) converges on the accelerometer's 40°
        // geometrically, θₖ = 40°·(1 − 0.98ᵏ): the episode's 30° is crossed at k = 69 (the episode
        // terminates, no new one starts while the robot is past it), the 35° limit at
        // k = ⌈ln(0.125)/ln(0.98)⌉ = 103, which trips before driving: 10 + 102 drives in all.
        f.Steps(150);
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.Tilt, f.Safety.Cause);
        Assert.Equal(1, f.Safety.Events(SafetyCause.Tilt));
        int drivesAtTrip = f.Io.Drives;
        Assert.Equal(10 + 102, drivesAtTrip);
        Assert.Equal(160 - drivesAtTrip, f.Io.Stops); // every step from the trip on re-asserts "off"
        Assert.Equal(1, f.Loop.Counters.Episodes);
        f.Steps(20);
        Assert.Equal(drivesAtTrip, f.Io.Drives); // latched: no drive after the trip
        Assert.Equal(180 - drivesAtTrip, f.Io.Stops);
        Assert.All(f.Loop.SafeAction.ToArray(), a => Assert.Equal(0f, a));
    }

    [Fact]
    public void Stale_sensor_for_N_periods_stops_the_motors()
    {
        var f = new LoopFixture();
        f.Steps(5);
        f.Io.Fresh = false;
        f.Steps(4); // 4 unchanged periods: below the limit of 5
        Assert.False(f.Safety.Tripped);
        f.Steps(1);
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.StaleSensor, f.Safety.Cause);
        Assert.Equal(1, f.Io.Stops);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Non_finite_sensor_value_stops_the_motors(float bad)
    {
        var f = new LoopFixture();
        f.Steps(3);
        f.Io.GyroY = bad;
        f.Steps(1);
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.NonFinite, f.Safety.Cause);
        Assert.Equal(1, f.Io.Stops);
    }

    [Fact]
    public void Non_finite_action_stops_the_motors()
    {
        var safety = new LoopFixture().Safety;
        Span<float> safe = stackalloc float[2];
        safety.Filter([0, 0, 0, 0], [0.1f, float.NaN], 0, safe);
        Assert.True(safety.Tripped);
        Assert.Equal(SafetyCause.NonFinite, safety.Cause);
        Assert.Equal(0f, safe[0]);
    }

    [Fact]
    public void A_bus_fault_within_the_retries_is_absorbed()
    {
        var f = new LoopFixture();
        f.Steps(2);
        f.Io.ReadFailures = 2; // = i2cRetries: the third attempt succeeds
        f.Steps(1);
        Assert.False(f.Safety.Tripped);
        Assert.Equal(2, f.Loop.Counters.BusFaults);
        Assert.Equal(3, f.Io.Drives);
    }

    [Fact]
    public void A_bus_fault_beyond_the_retries_stops_the_motors()
    {
        var f = new LoopFixture();
        f.Steps(2);
        int readsBefore = f.Io.Reads;
        f.Io.ReadFailures = 3;
        f.Steps(1);
        Assert.Equal(readsBefore + 3, f.Io.Reads); // 1 try + 2 retries
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.BusFault, f.Safety.Cause);
        Assert.Equal(1, f.Io.Stops);
    }

    [Fact]
    public void A_motor_write_fault_beyond_the_retries_stops_the_motors()
    {
        var f = new LoopFixture();
        f.Steps(2);
        f.Io.DriveFailures = 10;
        f.Steps(1);
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.BusFault, f.Safety.Cause);
        Assert.Equal(2 + 3, f.Io.Drives);
        Assert.Equal(1, f.Io.Stops);
    }

    [Fact]
    public void A_throwing_task_stops_the_motors_and_nothing_escapes()
    {
        var task = new ScriptedTask { ThrowAtStep = 5 };
        var f = new LoopFixture(task: task);
        var ex = Record.Exception(() => f.Steps(10));
        Assert.Null(ex);
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.SoftwareFault, f.Safety.Cause);
        Assert.Equal(1, f.Loop.Counters.SoftwareFaults);
        Assert.Equal(4, f.Io.Drives);
        Assert.Equal(10, f.Loop.StepCount);
    }

    [Fact]
    public void Emergency_stop_from_another_thread_takes_effect_at_the_next_step()
    {
        var f = new LoopFixture();
        f.Steps(3);
        var other = new Thread(f.Safety.RequestEmergencyStop);
        other.Start();
        other.Join();
        f.Steps(1);
        Assert.True(f.Safety.Tripped);
        Assert.Equal(SafetyCause.EmergencyStop, f.Safety.Cause);
        Assert.Equal(3, f.Io.Drives);
        Assert.Equal(1, f.Io.Stops);
    }

    [Fact]
    public void Rearm_lets_the_motors_run_again_from_zero()
    {
        var f = new LoopFixture();
        f.Safety.RequestEmergencyStop();
        f.Steps(2);
        Assert.True(f.Safety.Tripped);
        f.Safety.Rearm();
        f.Steps(1);
        Assert.False(f.Safety.Tripped);
        Assert.Equal(1, f.Io.Drives);
    }

    [Fact]
    public void Actions_are_clamped_to_max_action_and_slew_limited()
    {
        var safety = new SafetySupervisor(new RobotPG.Controller.Configuration.SafetyConfig
        {
            MaxAction = 0.5, MaxActionRatePerS = 40, TiltLimitDeg = 35, StaleSensorPeriods = 5, I2cRetries = 2,
        }, controlRateHz: 200, actionSize: 2);
        Span<float> safe = stackalloc float[2];
        float[] obs = [0, 0, 0, 0];
        // 40 /s at 200 Hz = 0.2 per step: from 0 to the 0.5 clamp in 3 steps (0.2, 0.4, 0.5).
        float[] expectedUp = [0.2f, 0.4f, 0.5f, 0.5f];
        foreach (float e in expectedUp)
        {
            safety.Filter(obs, [3f, -0.1f], 0, safe);
            Assert.Equal(e, safe[0], 1e-6f);
            Assert.Equal(-0.1f, safe[1], 1e-6f);
        }
        // Reversal: at most 0.2 per step downwards, clamped at −0.5.
        float[] expectedDown = [0.3f, 0.1f, -0.1f, -0.3f, -0.5f, -0.5f];
        foreach (float e in expectedDown)
        {
            safety.Filter(obs, [-7f, -0.1f], 0, safe);
            Assert.Equal(e, safe[0], 1e-6f);
        }
        Assert.False(safety.Tripped);
    }

    /// <summary>A task that reports upright and throws at a chosen step.</summary>
    private sealed class ScriptedTask : IControlTask
    {
        private int _steps;

        public int ThrowAtStep { get; init; } = -1;

        public int ObservationSize => 4;

        public int ActionSize => 2;

        public void BeginEpisode(SensorFrame frame)
        {
        }

        public TaskOutcome Evaluate(SensorFrame frame, float dt, Span<float> observation)
        {
            if (++_steps == ThrowAtStep)
                throw new InvalidOperationException("task bug");
            observation.Clear();
            return new TaskOutcome(1, false, 0);
        }
    }
}
