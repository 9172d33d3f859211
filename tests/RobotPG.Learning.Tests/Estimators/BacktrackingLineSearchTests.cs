using RobotPG.Learning.Estimators;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>
/// TRPO's line search on hand-built objectives: from θ₀ = (1, −1) along Δθ = (2, 4) with f = ½ the candidates
/// are θ₀ + φΔθ with φ = 1, ½, ¼, … — exact in float — and the objective is a function of φ = (θ₁ − 1)/2 alone,
/// so each case knows which candidate must be accepted.
/// </summary>
public class BacktrackingLineSearchTests
{
    private static readonly float[] Start = [1, -1];
    private static readonly float[] Step = [2, 4];

    private sealed class Along(Func<double, (double Surrogate, double Kl)> at) : ITrustRegionObjective
    {
        public readonly List<double> Fractions = [];

        public void Evaluate(ReadOnlySpan<float> parameters, out double surrogate, out double meanKl)
        {
            double fraction = (parameters[0] - 1.0) / 2.0;
            Assert.Equal(-1.0 + 4 * fraction, parameters[1]); // the candidate lies on the search line
            Fractions.Add(fraction);
            (surrogate, meanKl) = at(fraction);
        }
    }

    private static (LineSearchResult Result, float[] Theta, List<double> Fractions) Search(Func<double, (double, double)> objective,
        double maxKl, int maxBacktracks, double startSurrogate = 0)
    {
        var along = new Along(objective);
        float[] theta = [float.NaN, float.NaN];
        LineSearchResult result = new BacktrackingLineSearch(2, maxKl, 0.5, maxBacktracks).Search(ref along, Start, Step, startSurrogate, theta);
        return (result, theta, along.Fractions);
    }

    [Fact]
    public void AcceptsTheFirstCandidateWithKlAtMostDelta()
    {
        // KL = φ², δ = 1/16: φ = 1 and ½ are outside, φ = ¼ has KL exactly δ and is accepted.
        var (result, theta, fractions) = Search(f => (f, f * f), maxKl: 0.0625, maxBacktracks: 10);
        Assert.Equal(new LineSearchResult(true, 2, 0.25, 0.25, 0.0625), result);
        Assert.Equal([1.5f, 0f], theta);
        Assert.Equal([1.0, 0.5, 0.25], fractions);
    }

    [Fact]
    public void TriesExactlyMaxBacktracksCandidatesThenKeepsTheStart()
    {
        // The same objective with K = 2: the accepting candidate φ = ¼ is the third and is never tried.
        var (result, theta, fractions) = Search(f => (f, f * f), maxKl: 0.0625, maxBacktracks: 2);
        Assert.False(result.Accepted);
        Assert.Equal(2, result.Backtracks);
        Assert.Equal(0.0, result.StepFraction);
        Assert.Equal((0.5, 0.25), (result.Surrogate, result.MeanKl)); // the last candidate's values
        Assert.Equal(Start, theta);
        Assert.Equal([1.0, 0.5], fractions);
    }

    [Fact]
    public void ASurrogateEqualToTheStartsIsNoImprovement()
    {
        // L(φ) = 4φ(1 − φ): L(1) = 0 = L(θ₀) is not accepted although its KL is within δ; L(½) = 1 is.
        var (result, theta, _) = Search(f => (4 * f * (1 - f), 0.0), maxKl: 1, maxBacktracks: 10);
        Assert.Equal(new LineSearchResult(true, 1, 0.5, 1.0, 0.0), result);
        Assert.Equal([2f, 1f], theta);
    }

    [Theory]
    [InlineData(double.PositiveInfinity, 0.0)]
    [InlineData(1.0, double.NegativeInfinity)]
    [InlineData(double.NaN, 0.0)]
    [InlineData(1.0, double.NaN)]
    public void NeverAcceptsANonFiniteSurrogateOrKl(double surrogateAtFullStep, double klAtFullStep)
    {
        // The full step's values are non-finite (an overflowing ratio, a broken KL); φ = ½ is fine and is the one accepted.
        var (result, _, _) = Search(f => f == 1 ? (surrogateAtFullStep, klAtFullStep) : (f, 0.0), maxKl: 1, maxBacktracks: 10);
        Assert.Equal(new LineSearchResult(true, 1, 0.5, 0.5, 0.0), result);
    }

    [Fact]
    public void RefusesBadSettingsAndSpansOfTheWrongLength()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BacktrackingLineSearch(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BacktrackingLineSearch(2, maxBacktracks: 0));
        Rejects.With<ArgumentOutOfRangeException>(() => new BacktrackingLineSearch(2, maxKl: 0), "δ must be positive");
        foreach (double ratio in new[] { 0.0, 1.0, 1.5, -0.5 })
            Rejects.With<ArgumentOutOfRangeException>(() => new BacktrackingLineSearch(2, backtrackRatio: ratio), "must be in (0, 1)");

        var search = new BacktrackingLineSearch(2);
        void Run(float[] start, float[] step, float[] result)
        {
            var along = new Along(f => (f, 0));
            search.Search(ref along, start, step, 0, result);
        }
        float[] two = new float[2], three = new float[3];
        Rejects.With<ArgumentException>(() => Run(three, two, two), "line search over 2 parameters got spans of 3, 2, 2");
        Rejects.With<ArgumentException>(() => Run(two, three, two), "got spans of 2, 3, 2");
        Rejects.With<ArgumentException>(() => Run(two, two, three), "got spans of 2, 2, 3");
    }
}
