using RobotPG.Learning.Advantages;
using RobotPG.Learning.Rollouts;
using Xunit;

namespace RobotPG.Learning.Tests.Advantages;

// References are written forward in time from the definitions (Monte-Carlo sums, TD residuals,
// Σ (γλ)^l δ_{t+l}) in double, independent of the estimator's backward recursion. Tolerance 1e-5:
// the outputs are float32 of magnitude ≤ ~10.
public class GaeEstimatorTests
{
    private const double Tolerance = 1e-5;

    // One environment, 8 steps: an episode that terminates at step 2, one truncated at step 5 (final
    // observation's value 4.0), and an unfinished one at the rollout's end (last value 2.5).
    private static readonly float[] Rewards = [1f, -0.5f, 2f, 0.3f, 0.7f, -1f, 0.2f, 1.1f];
    private static readonly float[] Values = [0.4f, 0.1f, -0.3f, 1.2f, 0.9f, 0.5f, -0.2f, 0.6f];
    private static readonly bool[] Terminated = [false, false, true, false, false, false, false, false];
    private static readonly bool[] Truncated = [false, false, false, false, false, true, false, false];
    private static readonly float[] Bootstrap = [0, 0, 0, 0, 0, 4.0f, 0, 0];
    private const float LastValue = 2.5f;
    private static readonly int[] EpisodeEnd = [2, 2, 2, 5, 5, 5, 7, 7];

    // Value of the state after the episode's last step: 0 for termination, bootstrapped otherwise.
    private static double TailValue(int end) => Terminated[end] ? 0 : Truncated[end] ? Bootstrap[end] : LastValue;

    private static (float[] adv, float[] ret) Run(double gamma, double lambda)
    {
        var adv = new float[8];
        var ret = new float[8];
        GaeEstimator.Estimate(8, 1, Rewards, Values, Terminated, Truncated, Bootstrap, [LastValue], gamma, lambda, adv, ret);
        return (adv, ret);
    }

    [Fact]
    public void LambdaOneIsMonteCarloAdvantage()
    {
        const double gamma = 0.9;
        (float[] adv, float[] ret) = Run(gamma, 1.0);
        for (int t = 0; t < 8; t++)
        {
            int end = EpisodeEnd[t];
            double g = 0, discount = 1;
            for (int k = t; k <= end; k++)
            {
                g += discount * Rewards[k];
                discount *= gamma;
            }
            g += discount * TailValue(end);
            Assert.Equal(g - Values[t], adv[t], Tolerance);
            Assert.Equal(g, ret[t], Tolerance);
        }
    }

    [Fact]
    public void LambdaZeroIsTheTdResidual()
    {
        const double gamma = 0.95;
        (float[] adv, _) = Run(gamma, 0.0);
        for (int t = 0; t < 8; t++)
        {
            double next = t == EpisodeEnd[t] ? TailValue(t) : Values[t + 1];
            Assert.Equal(Rewards[t] + gamma * next - Values[t], adv[t], Tolerance);
        }
    }

    [Fact]
    public void GeneralLambdaIsTheDiscountedSumOfResiduals()
    {
        const double gamma = 0.9, lambda = 0.8;
        (float[] adv, float[] ret) = Run(gamma, lambda);
        for (int t = 0; t < 8; t++)
        {
            double sum = 0, w = 1;
            for (int k = t; k <= EpisodeEnd[t]; k++)
            {
                double next = k == EpisodeEnd[k] ? TailValue(k) : Values[k + 1];
                sum += w * (Rewards[k] + gamma * next - Values[k]);
                w *= gamma * lambda;
            }
            Assert.Equal(sum, adv[t], Tolerance);
            Assert.Equal(sum + Values[t], ret[t], Tolerance);
        }
    }

    [Fact]
    public void TruncationBootstrapsAndTerminationDoesNot()
    {
        (float[] adv, _) = Run(0.9, 0.0);
        // Step 5 is truncated: r + γ·V(final) − V = −1 + 0.9·4 − 0.5.
        Assert.Equal(-1 + 0.9 * 4.0 - 0.5, adv[5], Tolerance);
        // Step 2 terminated: no value beyond it.
        Assert.Equal(2.0 - -0.3, adv[2], Tolerance);

        var tr = (bool[])Truncated.Clone();
        tr[5] = false;
        var term = (bool[])Terminated.Clone();
        term[5] = true;
        var a2 = new float[8];
        var r2 = new float[8];
        GaeEstimator.Estimate(8, 1, Rewards, Values, term, tr, Bootstrap, [LastValue], 0.9, 0.0, a2, r2);
        Assert.Equal(-1 - 0.5, a2[5], Tolerance);
    }

    [Fact]
    public void EnvironmentsInterleavedStepMajorAreIndependent()
    {
        // Two environments interleaved (index = t·2 + e) give the same numbers as each run alone.
        float[] r = new float[16], v = new float[16], b = new float[16];
        bool[] te = new bool[16], tr = new bool[16];
        for (int t = 0; t < 8; t++)
        {
            r[2 * t] = Rewards[t]; v[2 * t] = Values[t]; te[2 * t] = Terminated[t]; tr[2 * t] = Truncated[t]; b[2 * t] = Bootstrap[t];
            r[2 * t + 1] = Rewards[7 - t]; v[2 * t + 1] = Values[7 - t];
        }
        var adv = new float[16];
        var ret = new float[16];
        GaeEstimator.Estimate(8, 2, r, v, te, tr, b, [LastValue, -1f], 0.9, 0.8, adv, ret);
        (float[] single, _) = Run(0.9, 0.8);
        for (int t = 0; t < 8; t++) Assert.Equal(single[t], adv[2 * t]);

        float[] rev = new float[8], revV = new float[8], revAdv = new float[8], revRet = new float[8];
        for (int t = 0; t < 8; t++) { rev[t] = Rewards[7 - t]; revV[t] = Values[7 - t]; }
        GaeEstimator.Estimate(8, 1, rev, revV, new bool[8], new bool[8], new float[8], [-1f], 0.9, 0.8, revAdv, revRet);
        for (int t = 0; t < 8; t++) Assert.Equal(revAdv[t], adv[2 * t + 1]);
    }

    [Fact]
    public void GammaAndLambdaAtTheirBoundsAreAccepted()
    {
        // γ = λ = 1: the undiscounted Monte-Carlo advantage Σ r + tail value − V; γ = 0: r − V.
        (float[] adv, float[] ret) = Run(1.0, 1.0);
        for (int t = 0; t < 8; t++)
        {
            double g = TailValue(EpisodeEnd[t]);
            for (int k = t; k <= EpisodeEnd[t]; k++) g += Rewards[k];
            Assert.Equal(g - Values[t], adv[t], Tolerance);
            Assert.Equal(g, ret[t], Tolerance);
        }
        (adv, _) = Run(0.0, 0.0);
        for (int t = 0; t < 8; t++) Assert.Equal(Rewards[t] - Values[t], adv[t], Tolerance);
    }

    [Theory]
    [InlineData(-0.01, 0.9, "gamma")]
    [InlineData(1.01, 0.9, "gamma")]
    [InlineData(0.9, -0.01, "lambda")]
    [InlineData(0.9, 1.01, "lambda")]
    public void GammaOrLambdaOutsideTheUnitIntervalIsRefused(double gamma, double lambda, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Run(gamma, lambda));
        Assert.Equal(name, e.ParamName);
        Assert.StartsWith("must be in [0, 1]", e.Message);
    }

    // 4 steps × 2 environments = 8 entries per span, 2 last values; `shortSpan` names the one given a slot too few.
    private static void RunTwoEnvironments(string shortSpan, int extra = 0)
    {
        int Len(string name, int n) => (name == shortSpan ? n - 1 : n) + extra;
        var adv = new float[Len("advantages", 8)];
        var ret = new float[Len("returns", 8)];
        GaeEstimator.Estimate(4, 2, new float[Len("rewards", 8)], new float[Len("values", 8)], new bool[Len("terminated", 8)],
            new bool[Len("truncated", 8)], new float[Len("bootstrapValues", 8)], new float[Len("lastValues", 2)], 0.9, 0.9,
            adv, ret);
    }

    [Theory]
    [InlineData("rewards")]
    [InlineData("values")]
    [InlineData("terminated")]
    [InlineData("truncated")]
    [InlineData("bootstrapValues")]
    [InlineData("advantages")]
    [InlineData("returns")]
    [InlineData("lastValues")]
    public void ASpanOneSlotShortIsRefusedWithTheShapeItNeeds(string shortSpan)
    {
        var e = Assert.Throws<ArgumentException>(() => RunTwoEnvironments(shortSpan));
        Assert.Equal("every span must hold 4 steps × 2 environments", e.Message);
    }

    [Fact]
    public void LongerSpansAreUsedOnlyUpToStepsTimesEnvironments()
    {
        // The rollout's arrays may be larger than one batch: the first 8 entries give the same result as exact spans.
        float[] r = [..Rewards, 99f, 99f], v = [..Values, 99f, 99f], b = [..Bootstrap, 99f, 99f];
        bool[] te = [..Terminated, true, true], tr = [..Truncated, true, true];
        float[] adv = Enumerable.Repeat(-7f, 10).ToArray(), ret = new float[10];
        GaeEstimator.Estimate(8, 1, r, v, te, tr, b, [LastValue, 99f], 0.9, 0.8, adv, ret);
        (float[] exact, float[] exactRet) = Run(0.9, 0.8);
        Assert.Equal(exact, adv[..8]);
        Assert.Equal(exactRet, ret[..8]);
        Assert.Equal([-7f, -7f], adv[8..]); // past the batch: untouched
    }

    [Fact]
    public void ANullRolloutIsNamed()
    {
        var e = Assert.Throws<ArgumentNullException>(() => GaeEstimator.Estimate(null!, 0.9, 0.9));
        Assert.Equal("rollout", e.ParamName);
    }

    [Fact]
    public void BufferFormAllocatesNothing()
    {
        var buffer = new RolloutBuffer(64, 4, 3, 1);
        for (int i = 0; i < buffer.Capacity; i++) buffer.Record(i, -1f, i * 0.01f, 1f, i % 50 == 7, i % 61 == 3, 0.5f);
        GaeEstimator.Estimate(buffer, 0.99, 0.95);
        long before = GC.GetAllocatedBytesForCurrentThread();
        GaeEstimator.Estimate(buffer, 0.99, 0.95);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
