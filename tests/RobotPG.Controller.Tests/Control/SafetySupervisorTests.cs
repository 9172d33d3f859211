using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tests.Control;

/// <summary>
/// The supervisor on its own, one rule at a time, by the action it lets through (the duty the motors get):
/// exact limits, which cause wins, what a re-arm clears and what it must not.
/// </summary>
public sealed class SafetySupervisorTests
{
    // 100 Hz, 20 /s → 0.2 per step; 30° = 0.5235988 rad; stale after 3 unchanged periods.
    private static readonly SafetyConfig Config = new()
    {
        MaxAction = 0.8, MaxActionRatePerS = 20, TiltLimitDeg = 30, StaleSensorPeriods = 3, I2cRetries = 2,
    };

    private static readonly float[] Observation = [0.1f, -0.2f];
    private const float LimitRad = (float)(30 * Math.PI / 180);

    private static SafetySupervisor Create(BatteryConfig? battery = null) => new(Config, controlRateHz: 100, actionSize: 2, battery);

    private static float[] Filter(SafetySupervisor s, float tilt = 0f, float a0 = 1f, float a1 = -1f, float[]? observation = null)
    {
        var safe = new float[] { 9f, 9f }; // overwritten on every path
        s.Filter(observation ?? Observation, [a0, a1], tilt, safe);
        return safe;
    }

    private static SensorFrame Frame(long sequence, float volts = 7.4f)
    {
        var f = new SensorFrame(2) { Sequence = sequence, AccelZ = 9.81f, BatteryVolts = volts };
        return f;
    }

    [Fact]
    public void Tilt_exactly_at_the_limit_drives_and_just_past_it_stops()
    {
        var s = Create();
        Assert.Equal([0.2f, -0.2f], Filter(s, LimitRad));
        Assert.Equal([0.4f, -0.4f], Filter(s, -LimitRad));
        Assert.False(s.Tripped);
        Assert.Equal([0f, 0f], Filter(s, -LimitRad * 1.001f));
        Assert.Equal(SafetyCause.Tilt, s.Cause);
        Assert.Equal(1, s.Events(SafetyCause.Tilt));
    }

    [Fact]
    public void Rate_and_clamp_come_from_the_config_per_control_period()
    {
        var s = Create();
        float[][] expected = [[0.2f, -0.2f], [0.4f, -0.4f], [0.6f, -0.6f], [0.8f, -0.8f], [0.8f, -0.8f]];
        foreach (float[] e in expected) Assert.Equal(e, Filter(s, a0: 5f, a1: -5f));
        Assert.Equal([0.6f, -0.6f], Filter(s, a0: 0f, a1: 0f).Select(x => MathF.Round(x, 6)).ToArray());
    }

    public static TheoryData<float, float, float> NonFiniteInputs => new()
    {
        { float.NaN, 1f, 0f }, // tilt
        { float.PositiveInfinity, 1f, 0f },
        { 0f, float.NaN, 0f }, // action
        { 0f, 1f, float.NegativeInfinity }, // observation
    };

    [Theory]
    [MemberData(nameof(NonFiniteInputs))]
    public void A_non_finite_tilt_action_or_observation_stops_as_non_finite(float tilt, float action, float observation)
    {
        var s = Create();
        Filter(s);
        Assert.Equal([0f, 0f], Filter(s, tilt, action, 0.5f, [observation, 0f]));
        Assert.Equal(SafetyCause.NonFinite, s.Cause);
        Assert.Equal(0, s.Events(SafetyCause.Tilt));
    }

    [Fact]
    public void The_first_cause_latches_and_later_ones_are_not_counted()
    {
        var s = Create();
        s.Trip(SafetyCause.BusFault);
        s.Trip(SafetyCause.SoftwareFault);
        Assert.Equal([0f, 0f], Filter(s, tilt: 1f));
        Assert.Equal(SafetyCause.BusFault, s.Cause);
        Assert.Equal((1L, 0L, 0L), (s.Events(SafetyCause.BusFault), s.Events(SafetyCause.SoftwareFault), s.Events(SafetyCause.Tilt)));
        Assert.True(SafetySupervisor.IsFatal(SafetyCause.BusFault));
        foreach (var cause in new[] { SafetyCause.EmergencyStop, SafetyCause.Shutdown, SafetyCause.OperatorHold, SafetyCause.LowBattery })
            Assert.False(SafetySupervisor.IsFatal(cause));
    }

    [Fact]
    public void A_rearm_slews_up_from_zero_again()
    {
        var s = Create();
        Filter(s);
        Filter(s); // at 0.4
        s.Trip(SafetyCause.Tilt);
        Assert.Equal([0f, 0f], Filter(s));
        s.Rearm();
        Assert.Equal(1, s.Rearms);
        Assert.Equal([0.2f, -0.2f], Filter(s));
    }

    [Fact]
    public void A_rearm_straight_after_a_trip_also_starts_from_zero()
    {
        var s = Create();
        Filter(s);
        Filter(s);
        Filter(s); // at 0.6
        s.Trip(SafetyCause.Tilt); // no step while tripped
        s.Rearm();
        Assert.Equal([0.2f, -0.2f], Filter(s));
    }

    [Fact]
    public void Auto_rearm_counts_a_tilt_exactly_at_the_limit_as_upright()
    {
        var s = Create();
        s.AutoRearmPeriods = 2;
        Filter(s, tilt: 1f);
        Filter(s, tilt: LimitRad);
        Filter(s, tilt: -LimitRad);
        Assert.False(s.Tripped);
    }

    [Fact]
    public void A_tilt_rearm_keeps_an_emergency_stop_that_arrived_meanwhile()
    {
        var s = Create();
        s.Trip(SafetyCause.Tilt);
        s.RequestEmergencyStop();
        s.Rearm();
        Assert.True(s.EmergencyStopRequested);
        Assert.Equal([0f, 0f], Filter(s));
        Assert.Equal(SafetyCause.EmergencyStop, s.Cause);

        s.Rearm(); // clearing the e-stop trip itself drops the request
        Assert.False(s.EmergencyStopRequested);
        Assert.Equal([0.2f, -0.2f], Filter(s));
    }

    [Fact]
    public void Clear_estop_rearms_only_an_estop_trip()
    {
        var s = Create();
        s.RequestEmergencyStop();
        Filter(s);
        s.ClearEmergencyStop();
        Assert.False(s.Tripped);
        Assert.Equal(1, s.Rearms);
        Assert.Equal([0.2f, -0.2f], Filter(s));

        s.Trip(SafetyCause.Tilt);
        s.RequestEmergencyStop();
        s.ClearEmergencyStop();
        Assert.False(s.EmergencyStopRequested);
        Assert.True(s.Tripped);
        Assert.Equal(SafetyCause.Tilt, s.Cause);
        Assert.Equal(1, s.Rearms);
    }

    [Fact]
    public void A_stale_sequence_trips_at_exactly_n_unchanged_periods_and_new_data_resets_the_count()
    {
        var s = Create();
        s.CheckFrame(Frame(1));
        Assert.True(s.SensorFresh);
        s.CheckFrame(Frame(1));
        s.CheckFrame(Frame(1));
        Assert.False(s.SensorFresh);
        s.CheckFrame(Frame(2)); // moved: the count starts over
        s.CheckFrame(Frame(2));
        s.CheckFrame(Frame(2));
        Assert.False(s.Tripped);
        s.CheckFrame(Frame(2)); // third unchanged period
        Assert.True(s.Tripped);
        Assert.Equal(SafetyCause.StaleSensor, s.Cause);
        Assert.Equal([0f, 0f], Filter(s));
    }

    [Fact]
    public void A_rearm_starts_the_stale_count_over()
    {
        var s = Create();
        s.CheckFrame(Frame(5));
        s.CheckFrame(Frame(5));
        s.CheckFrame(Frame(5)); // two unchanged
        s.Trip(SafetyCause.Tilt);
        s.Rearm();
        s.CheckFrame(Frame(5));
        s.CheckFrame(Frame(5)); // two more after the re-arm: still below three
        Assert.False(s.Tripped);
    }

    [Theory]
    [InlineData("AccelX")]
    [InlineData("AccelY")]
    [InlineData("AccelZ")]
    [InlineData("GyroX")]
    [InlineData("GyroY")]
    [InlineData("GyroZ")]
    [InlineData("EncoderVelocity")]
    public void A_non_finite_sensor_value_trips_as_non_finite(string field)
    {
        var s = Create();
        SensorFrame f = Frame(1);
        switch (field)
        {
            case "AccelX": f.AccelX = float.NaN; break;
            case "AccelY": f.AccelY = float.NaN; break;
            case "AccelZ": f.AccelZ = float.PositiveInfinity; break;
            case "GyroX": f.GyroX = float.NaN; break;
            case "GyroY": f.GyroY = float.NegativeInfinity; break;
            case "GyroZ": f.GyroZ = float.NaN; break;
            default: f.EncoderVelocity[1] = float.NaN; break;
        }
        s.CheckFrame(f);
        Assert.True(s.Tripped);
        Assert.Equal(SafetyCause.NonFinite, s.Cause);
        Assert.Equal([0f, 0f], Filter(s));
    }

    [Fact]
    public void Low_battery_needs_consecutive_periods_strictly_below_the_minimum()
    {
        var s = Create(new BatteryConfig { Ina219Address = 0x40, ShuntOhms = 0.1, MinVolts = 6.5, LowPeriods = 3 });
        long seq = 0;
        foreach (float v in new[] { 6.4f, 6.4f, 6.5f, 6.4f, 6.4f }) s.CheckFrame(Frame(++seq, v)); // 6.5 is not low: the run restarts
        Assert.False(s.Tripped);
        s.CheckFrame(Frame(++seq, 6.4f));
        Assert.True(s.Tripped);
        Assert.Equal(SafetyCause.LowBattery, s.Cause);
        Assert.Equal([0f, 0f], Filter(s));
    }

    [Fact]
    public void Without_a_battery_config_a_dead_reading_does_not_trip()
    {
        var s = Create();
        for (int i = 1; i <= 10; i++) s.CheckFrame(Frame(i, 0f));
        Assert.False(s.Tripped);
    }

    [Fact]
    public void Auto_rearm_after_n_clear_periods_sends_zero_then_slews_from_zero()
    {
        var s = Create();
        s.AutoRearmPeriods = 3;
        Filter(s);
        Filter(s, tilt: 1f); // trips
        s.CheckFrame(Frame(1));
        Assert.Equal([0f, 0f], Filter(s)); // clear 1
        Assert.Equal([0f, 0f], Filter(s, tilt: 1f)); // past the limit: the run of clear periods restarts
        Assert.Equal([0f, 0f], Filter(s)); // clear 1
        Assert.Equal([0f, 0f], Filter(s)); // clear 2
        Assert.True(s.Tripped);
        Assert.Equal([0f, 0f], Filter(s)); // clear 3: re-armed, this step still zero
        Assert.False(s.Tripped);
        Assert.Equal(1, s.Rearms);
        Assert.Equal([0.2f, -0.2f], Filter(s));
    }

    [Fact]
    public void Auto_rearm_waits_for_fresh_data_and_a_cleared_estop_and_skips_other_causes()
    {
        var s = Create();
        s.AutoRearmPeriods = 2;
        s.CheckFrame(Frame(1));
        s.CheckFrame(Frame(1));
        s.CheckFrame(Frame(1));
        s.CheckFrame(Frame(1)); // stale trip
        Assert.Equal(SafetyCause.StaleSensor, s.Cause);
        for (int i = 0; i < 5; i++) Filter(s); // still stale: never clear
        Assert.True(s.Tripped);
        s.CheckFrame(Frame(2));
        Filter(s);
        Filter(s);
        Assert.False(s.Tripped);

        s.Trip(SafetyCause.BusFault);
        for (int i = 0; i < 5; i++) Assert.Equal([0f, 0f], Filter(s));
        Assert.Equal(SafetyCause.BusFault, s.Cause); // fatal causes never re-arm by themselves

        var t = Create();
        t.AutoRearmPeriods = 2;
        t.Trip(SafetyCause.Tilt);
        t.RequestEmergencyStop();
        for (int i = 0; i < 5; i++) Filter(t);
        Assert.True(t.Tripped); // an e-stop pending keeps the tilt trip
        Assert.Equal(SafetyCause.Tilt, t.Cause);
    }
}
