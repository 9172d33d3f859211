using RobotPG.Learning.Advantages;
using MathNet.Numerics.Statistics;
using RobotPG.Learning.Algorithms;
using Xunit;

namespace RobotPG.Learning.Tests.Ppo;

// Hand-worked minibatches with ε = 0.2 (numbers in the comments); tolerances 1e-6 for float32 results
// of magnitude ~1.
public class PpoLossTests
{
    private const float Eps = 0.2f;

    // ratio, advantage → which term wins:
    // 0: r 1.5, A +1: −1.5 vs −1.2 → clipped (upper side), gradient 0
    // 1: r 0.5, A −1:  0.5 vs  0.8 → clipped (lower side), gradient 0
    // 2: r 0.5, A +2: −1.0 vs −1.6 → unclipped, gradient −A·r/N = −0.2
    // 3: r 1.5, A −2:  3.0 vs  2.4 → unclipped, gradient 0.6
    // 4: r 1.1, A +0.5: inside the band, −0.55, gradient −0.11
    private static readonly float[] Ratios = [1.5f, 0.5f, 0.5f, 1.5f, 1.1f];
    private static readonly float[] Advantages = [1f, -1f, 2f, -2f, 0.5f];

    private static (float[] newLp, float[] oldLp) LogProbs()
    {
        var oldLp = new float[] { -1.3f, -0.2f, -2.5f, 0.7f, -1.0f };
        var newLp = new float[5];
        for (int i = 0; i < 5; i++) newLp[i] = oldLp[i] + (float)Math.Log(Ratios[i]);
        return (newLp, oldLp);
    }

    [Fact]
    public void PolicyLossClipsOnBothSides()
    {
        (float[] newLp, float[] oldLp) = LogProbs();
        var grad = new float[5];
        PolicyLossTerms t = PpoLoss.PolicyLoss(newLp, oldLp, Advantages, Eps, grad);

        Assert.Equal((-1.2 + 0.8 - 1.0 + 3.0 - 0.55) / 5, t.Loss, 1e-6);
        double[] expected = [0, 0, -0.2, 0.6, -0.11];
        for (int i = 0; i < 5; i++) Assert.Equal(expected[i], grad[i], 1e-6);
        Assert.Equal(0.8, t.ClipFraction, 1e-7);
        double kl = 2 * (0.5 - Math.Log(1.5)) + 2 * (-0.5 - Math.Log(0.5)) + (0.1 - Math.Log(1.1));
        Assert.Equal(kl / 5, t.ApproxKl, 1e-6);
        double oldKl = -(2 * Math.Log(1.5) + 2 * Math.Log(0.5) + Math.Log(1.1));
        Assert.Equal(oldKl / 5, t.OldApproxKl, 1e-6);
    }

    [Fact]
    public void PolicyGradientMatchesCentralDifferences()
    {
        // Away from the kinks (|r − 1| ≠ ε) the loss is smooth per sample; h = 1e-3 in log-prob space,
        // evaluated in float32: rounding error ~ 1e-7·|L|/h ≈ 1e-4, so 2e-3 absolute on gradients ≤ 0.6.
        (float[] newLp, float[] oldLp) = LogProbs();
        var grad = new float[5];
        var scratch = new float[5];
        PpoLoss.PolicyLoss(newLp, oldLp, Advantages, Eps, grad);
        const float h = 1e-3f;
        for (int i = 0; i < 5; i++)
        {
            float keep = newLp[i];
            newLp[i] = keep + h;
            double up = PpoLoss.PolicyLoss(newLp, oldLp, Advantages, Eps, scratch).Loss;
            newLp[i] = keep - h;
            double down = PpoLoss.PolicyLoss(newLp, oldLp, Advantages, Eps, scratch).Loss;
            newLp[i] = keep;
            Assert.Equal((up - down) / (2 * h), grad[i], 2e-3);
        }
    }

    // vOld 1 for all, returns 2, ε 0.2:
    // 0: v 1.5: (1.5−2)² = 0.25 vs (1.2−2)² = 0.64 → clipped wins, gradient 0
    // 1: v 1.1: inside the band, both 0.81, gradient (1.1 − 2)/3
    // 2: v 0.5: 2.25 vs (0.8−2)² = 1.44 → unclipped, gradient (0.5 − 2)/3
    [Fact]
    public void ClippedValueLoss()
    {
        float[] v = [1.5f, 1.1f, 0.5f], vOld = [1f, 1f, 1f], r = [2f, 2f, 2f];
        var grad = new float[3];
        float loss = PpoLoss.ValueLoss(v, vOld, r, Eps, clipValueLoss: true, scale: 0.5f, grad);
        Assert.Equal(0.5 * (0.64 + 0.81 + 2.25) / 3, loss, 1e-6);
        Assert.Equal(0.0, grad[0], 1e-7);
        Assert.Equal(0.5 * -0.9 / 3, grad[1], 1e-6);
        Assert.Equal(0.5 * -1.5 / 3, grad[2], 1e-6);

        float plain = PpoLoss.ValueLoss(v, vOld, r, Eps, clipValueLoss: false, scale: 1f, grad);
        Assert.Equal(0.5 * (0.25 + 0.81 + 2.25) / 3, plain, 1e-6);
        Assert.Equal(-0.5 / 3, grad[0], 1e-6);
    }

    [Fact]
    public void AdvantageNormalisationUsesTheSampleStd()
    {
        float[] a = [3f, -1f, 0.5f, 7f, 2f, -4f];
        double[] reference = Array.ConvertAll(a, x => (double)x);
        double mean = reference.Mean(), std = reference.StandardDeviation(); // MathNet: sample (n − 1) std
        AdvantageStandardization.Standardize(a);
        for (int i = 0; i < a.Length; i++) Assert.Equal((reference[i] - mean) / (std + 1e-8), a[i], 1e-6);
        float[] one = [3f];
        AdvantageStandardization.Standardize(one); // no spread: centred only, not NaN
        Assert.Equal([0f], one);
    }

    [Fact]
    public void Spans_of_different_lengths_are_refused_with_what_must_match()
    {
        float[] two = new float[2], three = new float[3];
        Assert.Equal("log-probs, advantages and gradients must have the same length",
            Assert.Throws<ArgumentException>(() => PpoLoss.PolicyLoss(three, three, two, 0.2f, three)).Message);
        // The generalised form: the behaviour's or the centre's log-probs alone of another length.
        Assert.Equal("log-probs, advantages and gradients must have the same length",
            Assert.Throws<ArgumentException>(() => PpoLoss.PolicyLoss(three, two, three, three, 0.2f, three)).Message);
        Assert.Equal("log-probs, advantages and gradients must have the same length",
            Assert.Throws<ArgumentException>(() => PpoLoss.PolicyLoss(three, three, two, three, 0.2f, three)).Message);
        Assert.Equal("values, returns and gradients must have the same length",
            Assert.Throws<ArgumentException>(() => PpoLoss.ValueLoss(three, three, three, 0.2f, true, 0.5f, two)).Message);
        Assert.Equal("values and returns must have the same length",
            Assert.Throws<ArgumentException>(() => PpoLoss.ExplainedVariance(two, three)).Message);
    }

    [Fact]
    public void ExplainedVariance()
    {
        float[] returns = [1f, 2f, 3f, 4f];
        Assert.Equal(1f, PpoLoss.ExplainedVariance(returns, returns));
        Assert.Equal(0f, PpoLoss.ExplainedVariance([2.5f, 2.5f, 2.5f, 2.5f], returns), 1e-6);
        // values = returns − [1, −1, 1, −1]: Var(residual) = 1, Var(returns) = 1.25 → 0.2.
        Assert.Equal(0.2f, PpoLoss.ExplainedVariance([0f, 3f, 2f, 5f], returns), 1e-6);
        Assert.True(float.IsNaN(PpoLoss.ExplainedVariance([1f, 2f], [3f, 3f])));
    }
}
