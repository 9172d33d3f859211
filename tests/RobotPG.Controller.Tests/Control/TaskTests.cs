using RobotPG.Controller.Configuration;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;

namespace RobotPG.Controller.Tests.Control;

public sealed class TaskTests
{
    private static BalanceBotTask BalanceBot(ImuAxis forward, ImuAxis up) => new(
        new TaskConfig { Kind = TaskKind.BalanceBot, DoneTiltDeg = 30, MaxEpisodeSteps = 100, ComplementaryAlpha = 0.98 },
        new ImuConfig { Address = 0x68, AccelRangeG = 4, GyroRangeDps = 500, CalibrationSamples = 0, Mounting = new ImuMounting { Forward = forward, Up = up } },
        [new EncoderConfig { Name = "l", PinA = 1, PinB = 2, CountsPerRevolution = 1000 }, new EncoderConfig { Name = "r", PinA = 3, PinB = 4, CountsPerRevolution = 1000 }]);

    private static double[] Axis(ImuAxis a)
    {
        var v = new double[3];
        v[(int)a / 2] = (int)a % 2 == 0 ? 1 : -1;
        return v;
    }

    private static double[] Cross(double[] a, double[] b) =>
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

    public static TheoryData<ImuAxis, ImuAxis> PerpendicularPairs()
    {
        var data = new TheoryData<ImuAxis, ImuAxis>();
        foreach (var f in Enum.GetValues<ImuAxis>())
            foreach (var u in Enum.GetValues<ImuAxis>())
                if ((int)f / 2 != (int)u / 2)
                    data.Add(f, u);
        return data;
    }

    [Theory]
    [MemberData(nameof(PerpendicularPairs))]
    public void Pitch_and_pitch_rate_match_the_closed_form_for_every_mounting(ImuAxis forward, ImuAxis up)
    {
        var (axis, sign) = BalanceBotTask.Cross(up, forward);
        var reference = Cross(Axis(up), Axis(forward));
        var got = Axis(axis);
        for (int i = 0; i < 3; i++)
            Assert.Equal(reference[i], sign * got[i]);

        // Body pitched by θ and turning at ω: specific force = g(−sin θ f + cos θ u), rate ω about u × f.
        const double theta = 0.3, omega = -1.25, g = 9.80665;
        var f = Axis(forward);
        var u = Axis(up);
        var frame = new SensorFrame(2);
        frame.AccelX = (float)(g * (-Math.Sin(theta) * f[0] + Math.Cos(theta) * u[0]));
        frame.AccelY = (float)(g * (-Math.Sin(theta) * f[1] + Math.Cos(theta) * u[1]));
        frame.AccelZ = (float)(g * (-Math.Sin(theta) * f[2] + Math.Cos(theta) * u[2]));
        frame.GyroX = (float)(omega * reference[0]);
        frame.GyroY = (float)(omega * reference[1]);
        frame.GyroZ = (float)(omega * reference[2]);

        var task = BalanceBot(forward, up);
        var obs = new float[4];
        var outcome = task.Evaluate(frame, 0.005f, obs);
        Assert.Equal(theta, obs[0], 1e-6);
        Assert.Equal(omega, obs[1], 1e-6);
        Assert.Equal(theta, outcome.TiltRad, 1e-6);
        Assert.False(outcome.Terminated);
    }

    [Fact]
    public void Complementary_filter_integrates_the_gyro_and_leans_on_the_accelerometer()
    {
        var task = BalanceBot(ImuAxis.PlusX, ImuAxis.PlusZ);
        var frame = new SensorFrame(2) { AccelZ = 9.80665f };
        var obs = new float[4];
        task.Evaluate(frame, 0.01f, obs); // starts at the accelerometer's 0
        frame.GyroY = 2f;                // +y = up × forward: pitching forward at 2 rad/s
        task.Evaluate(frame, 0.01f, obs);
        // θ₁ = 0.98·(0 + 2·0.01) + 0.02·0 = 0.0196 rad.
        Assert.Equal(0.0196, obs[0], 1e-6);
    }

    [Fact]
    public void Wheel_angle_is_measured_from_the_episode_start_and_averaged()
    {
        var task = BalanceBot(ImuAxis.PlusX, ImuAxis.PlusZ);
        var frame = new SensorFrame(2) { AccelZ = 9.80665f };
        frame.EncoderTicks[0] = 500;
        frame.EncoderTicks[1] = 700;
        task.BeginEpisode(frame);
        frame.EncoderTicks[0] = 750; // +1/4 rev
        frame.EncoderTicks[1] = 1200; // +1/2 rev
        frame.EncoderVelocity[0] = 1f;
        frame.EncoderVelocity[1] = 3f;
        var obs = new float[4];
        task.Evaluate(frame, 0.01f, obs);
        Assert.Equal((Math.PI / 2 + Math.PI) / 2, obs[2], 1e-5);
        Assert.Equal(2.0, obs[3], 1e-6);
    }

    [Fact]
    public void Cartpole_observation_is_in_metres_and_radians_and_ends_off_the_rail()
    {
        var config = RobotPG.Controller.Configuration.ConfigLoader.Load(RepoPaths.FirmwareConfig("cartpole-rail.sim.json")).Config!;
        var task = (CartpoleRailTask)ControlTasks.Create(config);
        var frame = new SensorFrame(2);
        // Cart: 1320 counts/rev, 0.12 m/rev; pole: 2400 counts/rev.
        frame.EncoderTicks[0] = 660;  // half a revolution: 0.06 m
        frame.EncoderTicks[1] = -100; // −15°
        frame.EncoderVelocity[0] = (float)(2 * Math.PI); // 1 rev/s: 0.12 m/s
        frame.EncoderVelocity[1] = 0.5f;
        var obs = new float[4];
        var outcome = task.Evaluate(frame, 0.01f, obs);
        Assert.Equal(0.06, obs[0], 1e-6);
        Assert.Equal(0.12, obs[1], 1e-6);
        Assert.Equal(-15 * Math.PI / 180, obs[2], 1e-6);
        Assert.Equal(0.5, obs[3], 1e-6);
        Assert.True(outcome.Terminated); // |θ| = 15° > 12°
        frame.EncoderTicks[1] = 0;
        frame.EncoderTicks[0] = 1320 * 4; // 0.48 m > 0.4 m
        Assert.True(task.Evaluate(frame, 0.01f, obs).Terminated);
        frame.EncoderTicks[0] = 1320;
        Assert.False(task.Evaluate(frame, 0.01f, obs).Terminated);
    }
}
