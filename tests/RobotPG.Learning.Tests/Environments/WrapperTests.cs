using RobotPG.Learning.Environments;
using Xunit;

namespace RobotPG.Learning.Tests.Environments;

public class WrapperTests
{
    /// <summary>Records the action it was stepped with; terminates on the step given.</summary>
    private sealed class Recorder(int terminateAtStep) : IEnvironment
    {
        private static readonly float[] Low = [-1f, 0f], High = [1f, 5f];
        private int _steps;
        public float[] LastAction { get; } = new float[2];
        public int ObservationSize => 1;
        public int ActionSize => 2;
        public ReadOnlySpan<float> ActionLow => Low;
        public ReadOnlySpan<float> ActionHigh => High;
        public int StateSize => 1;
        public void Reset(Span<float> observation, ulong? seed = null) => _steps = 0;
        public void ResetTo(ReadOnlySpan<double> state, Span<float> observation) => _steps = (int)state[0];
        public void ReadState(Span<double> state) => state[0] = _steps;

        public StepResult Step(ReadOnlySpan<float> action, Span<float> observation)
        {
            action.CopyTo(LastAction);
            _steps++;
            return new StepResult(1f, _steps == terminateAtStep, false);
        }
    }

    [Fact]
    public void ClipActionClipsEachDimensionToItsBox()
    {
        var inner = new Recorder(100);
        var env = new ClipAction(inner);
        float[] obs = new float[1];
        env.Step([-3f, 2.5f], obs);
        Assert.Equal([-1f, 2.5f], inner.LastAction);
        env.Step([0.25f, 9f], obs);
        Assert.Equal([0.25f, 5f], inner.LastAction);
        Assert.Throws<ArgumentException>(() => env.Step([1f], obs));
    }

    [Fact]
    public void TimeLimitTruncatesOnTheLimitStepAndKeepsTermination()
    {
        var env = new TimeLimit(new Recorder(3), 3);
        float[] obs = new float[1];
        env.Reset(obs);
        Assert.False(env.Step([0, 0], obs).Done);
        Assert.False(env.Step([0, 0], obs).Done);
        StepResult last = env.Step([0, 0], obs);
        Assert.True(last.Terminated);
        Assert.True(last.Truncated);
        Assert.Equal(3, env.ElapsedSteps);
        env.Reset(obs);
        Assert.Equal(0, env.ElapsedSteps);
    }

    [Fact]
    public void TimeLimitNeedsAPositiveLimit() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TimeLimit(new Recorder(1), 0));
}
