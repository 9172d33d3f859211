using RobotPG.Learning.Environments;
using RobotPG.Sim.Environments;
using Xunit;

namespace RobotPG.Sim.Tests.Environments;

// Expected values are worked from the Gymnasium formulas independently (Python floats, i.e. IEEE double),
// so they match to double rounding; observations are float32, compared to float precision (1e-6 relative).
public class PendulumTests
{
    [Theory]
    [InlineData(1.0f, 0.4754784576976576, -0.4904308460468477, 0.8890738027418, 0.457763883763491, -0.351)]
    // 3 N·m is outside the box: the environment clips it to 2 for the dynamics and the cost.
    [InlineData(3.0f, 0.4829784576976576, -0.3404308460468477, 0.8856156007165159, 0.46441900022234733, -0.354)]
    public void OneStepFromKnownState(float torque, double theta, double thetaDot, double cos, double sin, double reward)
    {
        var env = new Pendulum();
        Span<float> obs = stackalloc float[3];
        env.ResetTo([0.5, -1.0], obs);
        StepResult r = env.Step([torque], obs);

        Span<double> state = stackalloc double[2];
        env.ReadState(state);
        Assert.Equal(theta, state[0], 1e-15);
        Assert.Equal(thetaDot, state[1], 1e-15);
        Assert.Equal((float)cos, obs[0]);
        Assert.Equal((float)sin, obs[1]);
        Assert.Equal((float)thetaDot, obs[2]);
        Assert.Equal((float)reward, r.Reward);
        Assert.False(r.Terminated);
        Assert.False(r.Truncated);
    }

    [Theory]
    [InlineData(4.0, -2.2831853071795862)]
    [InlineData(-4.0, 2.2831853071795862)]
    [InlineData(0.25, 0.25)]
    public void AngleNormalizeFollowsPythonModulo(double angle, double expected) =>
        Assert.Equal(expected, Pendulum.AngleNormalize(angle), 1e-15);

    [Fact]
    public void SpeedIsClippedToEight()
    {
        var env = new Pendulum();
        Span<float> obs = stackalloc float[3];
        env.ResetTo([Math.PI / 2, 7.9], obs);
        env.Step([2f], obs);
        Assert.Equal(8f, obs[2]);
    }

    [Fact]
    public void TruncatesAtTwoHundredSteps()
    {
        IEnvironment env = EnvironmentCatalog.Create("pendulum", 3);
        Span<float> obs = stackalloc float[3];
        env.Reset(obs, 3);
        for (int i = 1; i < 200; i++)
        {
            StepResult r = env.Step([0f], obs);
            Assert.False(r.Done, $"step {i} ended the episode");
        }
        StepResult last = env.Step([0f], obs);
        Assert.True(last.Truncated);
        Assert.False(last.Terminated);
    }

    [Fact]
    public void ResetDrawsFromTheGymnasiumBox()
    {
        var env = new Pendulum(11);
        Span<float> obs = stackalloc float[3];
        Span<double> state = stackalloc double[2];
        double minTheta = double.MaxValue, maxTheta = double.MinValue, minDot = double.MaxValue, maxDot = double.MinValue;
        for (int i = 0; i < 5000; i++)
        {
            env.Reset(obs);
            env.ReadState(state);
            minTheta = Math.Min(minTheta, state[0]);
            maxTheta = Math.Max(maxTheta, state[0]);
            minDot = Math.Min(minDot, state[1]);
            maxDot = Math.Max(maxDot, state[1]);
            Assert.Equal((float)Math.Cos(state[0]), obs[0]);
        }
        // Inside the box, and 5000 uniform draws come within 1% of both ends.
        Assert.InRange(minTheta, -Math.PI, -Math.PI * 0.99);
        Assert.InRange(maxTheta, Math.PI * 0.99, Math.PI);
        Assert.InRange(minDot, -1.0, -0.99);
        Assert.InRange(maxDot, 0.99, 1.0);
    }

    [Fact]
    public void SameSeedSameInitialState()
    {
        var a = new Pendulum();
        var b = new Pendulum(99);
        Span<float> oa = stackalloc float[3], ob = stackalloc float[3];
        a.Reset(oa, 42);
        b.Reset(ob, 42);
        Assert.True(oa.SequenceEqual(ob));
        a.Reset(oa);
        b.Reset(ob);
        Assert.True(oa.SequenceEqual(ob));
    }
}

public class CartPoleTests
{
    [Fact]
    public void OneStepFromKnownState()
    {
        var env = new CartPole();
        Span<float> obs = stackalloc float[4];
        env.ResetTo([0.01, -0.02, 0.03, 0.04], obs);
        StepResult r = env.Step([0.5f], obs);

        Span<double> s = stackalloc double[4];
        env.ReadState(s);
        Assert.Equal(0.009600000000000001, s[0], 1e-15);
        Assert.Equal(0.07712464253496908, s[1], 1e-15);
        Assert.Equal(0.030799999999999998, s[2], 1e-15);
        Assert.Equal(-0.0968027325259963, s[3], 1e-15);
        Assert.Equal((float)0.07712464253496908, obs[1]);
        Assert.Equal(1f, r.Reward);
        Assert.False(r.Done);
    }

    [Fact]
    public void ForceSaturatesAtTenNewtons()
    {
        var clipped = new CartPole();
        var saturated = new CartPole();
        Span<float> o1 = stackalloc float[4], o2 = stackalloc float[4];
        clipped.ResetTo([0, 0, 0, 0], o1);
        saturated.ResetTo([0, 0, 0, 0], o2);
        clipped.Step([5f], o1);
        saturated.Step([1f], o2);
        Assert.True(o1.SequenceEqual(o2));
        // Pure 10 N on an upright pole: θ̈ = −(10/1.1)/(0.5(4/3 − 0.1/1.1)), ẍ = 10/1.1 − 0.05 θ̈/1.1.
        double thetaAcc = -(10 / 1.1) / (0.5 * (4.0 / 3.0 - 0.1 / 1.1));
        double xAcc = 10 / 1.1 - 0.05 * thetaAcc / 1.1;
        Assert.Equal((float)(0.02 * xAcc), o1[1]);
        Assert.Equal((float)(0.02 * thetaAcc), o1[3]);
    }

    [Theory]
    [InlineData(2.4, 0.0, 0.0, false)] // exactly at the threshold is still alive (strict >)
    [InlineData(2.4, 0.01, 0.0, true)]
    [InlineData(-2.4, -0.01, 0.0, true)]
    [InlineData(0.0, 0.0, 0.20943951023931953, false)] // θ = 12° exactly, θ̇ = 0 keeps it for one step
    [InlineData(0.0, 0.0, 0.2094, false)]
    public void TerminationBoundaries(double x, double xDot, double theta, bool terminated)
    {
        var env = new CartPole();
        Span<float> obs = stackalloc float[4];
        env.ResetTo([x, xDot, theta, 0.0], obs);
        StepResult r = env.Step([0f], obs);
        Assert.Equal(terminated, r.Terminated);
        Assert.Equal(1f, r.Reward); // +1 includes the terminating step
    }

    [Fact]
    public void AngleBeyondTwelveDegreesTerminatesAndLaterStepsPayNothing()
    {
        var env = new CartPole();
        Span<float> obs = stackalloc float[4];
        env.ResetTo([0.0, 0.0, 0.2094, 0.05], obs); // θ after the step: 0.2104 > 0.20944
        StepResult r = env.Step([0f], obs);
        Assert.True(r.Terminated);
        Assert.Equal(1f, r.Reward);
        Assert.Equal(0f, env.Step([0f], obs).Reward);
    }

    [Fact]
    public void TruncatesAtFiveHundredSteps()
    {
        // A hand-made PD controller on θ and x keeps the pole up for the whole episode.
        IEnvironment env = EnvironmentCatalog.Create("cartpole");
        Span<float> obs = stackalloc float[4];
        env.Reset(obs, 5);
        StepResult r = default;
        int steps = 0;
        while (!r.Done)
        {
            float a = 10f * obs[2] + 2f * obs[3] + 0.1f * obs[0] + 0.3f * obs[1];
            r = env.Step([a], obs);
            steps++;
        }
        Assert.Equal(500, steps);
        Assert.True(r.Truncated);
        Assert.False(r.Terminated);
    }

    [Fact]
    public void ResetDrawsFromPlusMinusFiveHundredths()
    {
        var env = new CartPole(7);
        Span<float> obs = stackalloc float[4];
        Span<double> s = stackalloc double[4];
        double min = double.MaxValue, max = double.MinValue;
        for (int i = 0; i < 3000; i++)
        {
            env.Reset(obs);
            env.ReadState(s);
            foreach (double v in s)
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        }
        Assert.InRange(min, -0.05, -0.0499);
        Assert.InRange(max, 0.0499, 0.05);
    }
}

public class MountainCarTests
{
    [Theory]
    [InlineData(0.8f, -0.48897684300416927, 0.011023156995830743, -0.06400000000000002)]
    // The penalty uses the action as passed (1.5), the dynamics the clipped force (1).
    [InlineData(1.5f, -0.48867684300416925, 0.011323156995830743, -0.225)]
    public void OneStepFromKnownState(float action, double position, double velocity, double reward)
    {
        var env = new MountainCarContinuous();
        Span<float> obs = stackalloc float[2];
        env.ResetTo([-0.5, 0.01], obs);
        StepResult r = env.Step([action], obs);
        // The reference stores its state in float32 after a step.
        Assert.Equal((float)position, obs[0]);
        Assert.Equal((float)velocity, obs[1]);
        Assert.Equal(reward, r.Reward, 1e-6);
        Assert.False(r.Done);
    }

    [Fact]
    public void ReachingTheGoalTerminatesWithTheBonus()
    {
        var env = new MountainCarContinuous();
        Span<float> obs = stackalloc float[2];
        env.ResetTo([0.44, 0.02], obs);
        StepResult r = env.Step([0.5f], obs);
        Assert.True(r.Terminated);
        Assert.Equal(100.0 - 0.025, r.Reward, 1e-5);
        Assert.True(obs[0] >= 0.45f);
    }

    [Fact]
    public void GoalNeedsNonNegativeVelocity()
    {
        var env = new MountainCarContinuous();
        Span<float> obs = stackalloc float[2];
        env.ResetTo([0.47, -0.01], obs);
        StepResult r = env.Step([0f], obs);
        Assert.True(obs[0] >= 0.45f);
        Assert.False(r.Terminated);
    }

    [Fact]
    public void LeftWallIsInelastic()
    {
        var env = new MountainCarContinuous();
        Span<float> obs = stackalloc float[2];
        env.ResetTo([-1.19, -0.05], obs);
        env.Step([0f], obs);
        Assert.Equal(-1.2f, obs[0]);
        Assert.Equal(0f, obs[1]);
    }

    [Fact]
    public void TruncatesAt999Steps()
    {
        IEnvironment env = EnvironmentCatalog.Create("mountaincar");
        Span<float> obs = stackalloc float[2];
        env.Reset(obs, 1);
        int steps = 0;
        StepResult r = default;
        while (!r.Done)
        {
            r = env.Step([0f], obs); // no force: the car only rocks in the valley
            steps++;
        }
        Assert.Equal(999, steps);
        Assert.True(r.Truncated);
        Assert.False(r.Terminated);
    }

    [Fact]
    public void ResetStartsInTheValleyAtRest()
    {
        var env = new MountainCarContinuous(3);
        Span<float> obs = stackalloc float[2];
        float min = float.MaxValue, max = float.MinValue;
        for (int i = 0; i < 3000; i++)
        {
            env.Reset(obs);
            Assert.Equal(0f, obs[1]);
            min = Math.Min(min, obs[0]);
            max = Math.Max(max, obs[0]);
        }
        Assert.InRange(min, -0.6f, -0.599f);
        Assert.InRange(max, -0.401f, -0.4f);
    }
}

public class EnvironmentWrapperTests
{
    [Fact]
    public void ClipActionClipsOnlyWhatTheEnvironmentSees()
    {
        var raw = new Pendulum();
        var clipped = new ClipAction(new Pendulum());
        Span<float> o1 = stackalloc float[3], o2 = stackalloc float[3];
        raw.ResetTo([1.0, 0.5], o1);
        clipped.ResetTo([1.0, 0.5], o2);
        float[] action = [-7f];
        StepResult r1 = raw.Step([-2f], o1);
        StepResult r2 = clipped.Step(action, o2);
        Assert.True(o1.SequenceEqual(o2));
        Assert.Equal(r1.Reward, r2.Reward);
        Assert.Equal(-7f, action[0]); // the caller's (stored) action is untouched
    }

    [Fact]
    public void ResetToRestartsTheTimeLimit()
    {
        var env = new TimeLimit(new Pendulum(), 3);
        Span<float> obs = stackalloc float[3];
        env.Reset(obs, 1);
        env.Step([0f], obs);
        env.Step([0f], obs);
        env.ResetTo([0.1, 0.0], obs);
        Assert.False(env.Step([0f], obs).Truncated);
        Assert.False(env.Step([0f], obs).Truncated);
        Assert.True(env.Step([0f], obs).Truncated);
    }

    [Fact]
    public void UnknownNameIsRefused()
    {
        Assert.False(EnvironmentCatalog.TryCreate("acrobot", 0, out _));
        ArgumentException e = Assert.Throws<ArgumentException>(() => EnvironmentCatalog.Create("acrobot"));
        Assert.Contains("pendulum", e.Message);
    }

    [Fact]
    public void WrongStateLengthIsRefused()
    {
        var env = new CartPole();
        float[] obs = new float[4];
        Assert.Throws<ArgumentException>(() => env.ResetTo([0.1, 0.2], obs));
    }

    [Theory]
    [InlineData("pendulum")]
    [InlineData("cartpole")]
    [InlineData("mountaincar")]
    public void StepAllocatesNothing(string name)
    {
        IEnvironment env = EnvironmentCatalog.Create(name, 1);
        float[] obs = new float[env.ObservationSize];
        float[] action = new float[env.ActionSize];
        env.Reset(obs, 1);
        for (int i = 0; i < 100; i++)
            if (env.Step(action, obs).Done) env.Reset(obs);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            action[0] = (i % 7 - 3) * 0.5f;
            if (env.Step(action, obs).Done) env.Reset(obs);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
