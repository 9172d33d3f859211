using RobotPG.Learning.Estimators;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>
/// Every weighting of the notes on one tiny batch, worked out by hand: two trajectories of two steps,
/// a 1-D linear Gaussian policy a ~ N(w s + b, 1) at w = b = 0, so the scores are
/// ∂log π/∂w = a·s and ∂log π/∂b = a.
///   trajectory 1: (s = 1, a = 0.5, r = 1), (s = 2, a = −1, r = 2)   scores w: 0.5, −2   b: 0.5, −1
///   trajectory 2: (s = −1, a = 1, r = 3), (s = 1, a = 2, r = 4)    scores w: −1, 2     b: 1, 2
/// ĝ = (1/N) Σ ∇log π · w with N = 2 trajectories.
/// </summary>
public class HandCheckedEstimatorTests
{
    private static readonly float[] Observations = [1, 2, -1, 1];
    private static readonly float[] Actions = [0.5f, -1, 1, 2];
    private static readonly float[] Rewards = [1, 2, 3, 4];
    private static readonly bool[] Ends = [false, true, false, true];

    /// <summary>(∂w, ∂b) of (1/2) Σ wₜ ∇log π(aₜ|sₜ), through the library's policy gradient accumulation.</summary>
    private static (double W, double B) Gradient(ReadOnlySpan<float> weights)
    {
        var policy = new LinearGaussianPolicy(1, 1);
        double[] gradient = new double[policy.ParameterCount];
        for (int t = 0; t < 4; t++)
            policy.AccumulateLogProbGradient(Observations.AsSpan(t, 1), Actions.AsSpan(t, 1), weights[t] / 2.0, gradient);
        return (gradient[0], gradient[1]);
    }

    [Fact]
    public void FormulaAWeightsEveryStepByTheWholeReturn()
    {
        float[] w = new float[4];
        ReturnWeighting.WholeTrajectoryReturn(Rewards, Ends, 1.0, w);
        Assert.Equal([3f, 3f, 7f, 7f], w);
        // ĝ_w = ½[(0.5 − 2)·3 + (−1 + 2)·7] = 1.25;  ĝ_b = ½[(0.5 − 1)·3 + (1 + 2)·7] = 9.75
        var (gw, gb) = Gradient(w);
        Assert.Equal(1.25, gw, 6);
        Assert.Equal(9.75, gb, 6);
    }

    [Fact]
    public void FormulaADiscounted()
    {
        float[] w = new float[4];
        ReturnWeighting.WholeTrajectoryReturn(Rewards, Ends, 0.5, w);
        Assert.Equal([2f, 2f, 5f, 5f], w); // 1 + 0.5·2, 3 + 0.5·4
    }

    [Fact]
    public void FormulaBWeightsByRewardToGo()
    {
        float[] w = new float[4];
        ReturnWeighting.RewardToGo(Rewards, Ends, 1.0, w);
        Assert.Equal([3f, 2f, 7f, 4f], w);
        // ĝ_w = ½[0.5·3 − 2·2 − 1·7 + 2·4] = −0.75;  ĝ_b = ½[0.5·3 − 1·2 + 1·7 + 2·4] = 7.25
        var (gw, gb) = Gradient(w);
        Assert.Equal(-0.75, gw, 6);
        Assert.Equal(7.25, gb, 6);
    }

    [Fact]
    public void FormulaBDiscountedWithAndWithoutNote002Factor()
    {
        float[] w = new float[4];
        ReturnWeighting.RewardToGo(Rewards, Ends, 0.5, w);
        Assert.Equal([2f, 2f, 5f, 4f], w); // r_togo: 1 + 0.5·2, 2, 3 + 0.5·4, 4
        ReturnWeighting.ApplyDiscountFromEpisodeStart([0, 1, 0, 1], 0.5, w);
        Assert.Equal([2f, 1f, 5f, 2f], w); // γ^{k−1} r_togo(k): second steps × 0.5
        ReturnWeighting.RewardToGo(Rewards, Ends, 0.5, w);
        ReturnWeighting.ApplyDiscountFromEpisodeStart([3, 4, 0, 1], 0.5, w); // first run continues an episode at step 3
        Assert.Equal([0.25f, 0.125f, 5f, 2f], w);
    }

    [Fact]
    public void BatchEndClosesAnOpenTrajectory()
    {
        float[] w = new float[3];
        ReturnWeighting.RewardToGo([1, 1, 1], [true, false, false], 1.0, w);
        Assert.Equal([1f, 2f, 1f], w);
        Assert.Equal(2, ReturnWeighting.CountTrajectories([true, false, false]));
    }

    [Fact]
    public void MeanReturnBaselineSubtractsMean()
    {
        float[] w = new float[4];
        ReturnWeighting.WholeTrajectoryReturn(Rewards, Ends, 1.0, w);
        double b = ConstantBaseline.MeanReturn(w, Ends);
        Assert.Equal(5.0, b, 12); // (3 + 7)/2
        ConstantBaseline.Subtract(w, b);
        // ĝ_w = ½[(−1.5)(−2) + (1)(2)] = 2.5
        Assert.Equal(2.5, Gradient(w).W, 6);
    }

    [Fact]
    public void TimeDependentBaselineSubtractsMeanRewardToGo()
    {
        float[] w = new float[4], scratch = new float[4];
        ReturnWeighting.RewardToGo(Rewards, Ends, 1.0, w);
        var baseline = new TimeDependentBaseline(2);
        baseline.Compute(w, [0, 1, 0, 1], scratch);
        Assert.Equal([5f, 3f, 5f, 3f], scratch); // b₀ = (3 + 7)/2, b₁ = (2 + 4)/2
        baseline.Subtract(w, [0, 1, 0, 1], scratch);
        // weights [−2, −1, 2, 1]: ĝ_w = ½[0.5·(−2) − 2·(−1) − 1·2 + 2·1] = 0.5
        Assert.Equal(0.5, Gradient(w).W, 6);
    }

    [Fact]
    public void TimeDependentBaselineAveragesOverTrajectoriesReachingEachIndex()
    {
        float[] scratch = new float[3];
        new TimeDependentBaseline(4).Compute([4, 2, 6], [0, 1, 0], scratch);
        Assert.Equal([5f, 2f, 5f], scratch);
        // Episode steps past the initial horizon grow the sums instead of failing.
        var grown = new TimeDependentBaseline(1);
        grown.Compute([4, 2, 6, 1], [5, 6, 5, 0], new float[4]);
        Assert.Equal(7, grown.Horizon);
    }

    [Fact]
    public void StateValueBaselineSubtractsValues()
    {
        float[] w = new float[4];
        ReturnWeighting.RewardToGo(Rewards, Ends, 1.0, w);
        StateValueBaseline.Subtract(w, [1, 1, 2, 3]);
        Assert.Equal([2f, 1f, 5f, 1f], w);
        // ĝ_w = ½[0.5·2 − 2·1 − 1·5 + 2·1] = −2
        Assert.Equal(-2.0, Gradient(w).W, 6);
    }

    // Trajectory scores ∇log P(τ) = Σₜ ∇log π: τ₁ (w −1.5, b −0.5), τ₂ (w 1, b 3); returns R = (3, 7).
    private static readonly float[] TrajectoryScores = [-1.5f, -0.5f, 1f, 3f];
    private static readonly float[] TrajectoryReturns = [3f, 7f];

    private static OptimalConstantBaseline TwoTrajectories()
    {
        var baseline = new OptimalConstantBaseline(2);
        baseline.Add(TrajectoryScores.AsSpan(0, 2), TrajectoryReturns[0]);
        baseline.Add(TrajectoryScores.AsSpan(2, 2), TrajectoryReturns[1]);
        return baseline;
    }

    [Fact]
    public void OptimalConstantBaselinePerParameter()
    {
        double[] b = new double[2];
        var baseline = TwoTrajectories();
        baseline.PerParameter(b);
        Assert.Equal((2.25 * 3 + 1 * 7) / 3.25, b[0], 6);      // 4.2308
        Assert.Equal((0.25 * 3 + 9 * 7) / 9.25, b[1], 6);      // 6.8919
        float[] g = new float[2];
        baseline.Gradient(b, g);
        Assert.Equal(0.5 * (-1.5 * (3 - 13.75 / 3.25) + 1 * (7 - 13.75 / 3.25)), g[0], 5);   // 2.3077
        Assert.Equal(0.5 * (-0.5 * (3 - 63.75 / 9.25) + 3 * (7 - 63.75 / 9.25)), g[1], 5);   // 1.1351
    }

    [Fact]
    public void OptimalConstantBaselineScalar()
    {
        // ‖s₁‖² = 2.5, ‖s₂‖² = 10 → b = (2.5·3 + 10·7)/12.5 = 6.2
        var baseline = TwoTrajectories();
        Assert.Equal(6.2, baseline.Scalar(), 6);
        float[] g = new float[2];
        baseline.Gradient([6.2, 6.2], g);
        Assert.Equal(2.8, g[0], 5);  // ½[−1.5·(−3.2) + 1·0.8]
        Assert.Equal(2.0, g[1], 5);  // ½[−0.5·(−3.2) + 3·0.8]
    }

    [Fact]
    public void PerDecisionImportanceWeights()
    {
        // ρ = [2, 0.5 | 1, 4]: τ₁: w₀ = 2·(1 + 0.5·2) = 4, w₁ = (2·0.5)·2 = 2; τ₂: w₀ = 1·(3 + 4·4) = 19, w₁ = 4·4 = 16.
        float[] logOld = [0, 0, 0, 0];
        float[] logNew = [(float)Math.Log(2), (float)Math.Log(0.5), 0, (float)Math.Log(4)];
        float[] w = new float[4];
        ImportanceSampling.PerDecisionWeights(logNew, logOld, Rewards, Ends, 1.0, w);
        Assert.Equal(4, w[0], 5);
        Assert.Equal(2, w[1], 5);
        Assert.Equal(19, w[2], 4);
        Assert.Equal(16, w[3], 4);
    }

    [Fact]
    public void PerDecisionWeightsEqualRewardToGoOnPolicy()
    {
        float[] logProb = [-1.2f, -0.3f, -2f, -0.7f], w = new float[4], rtg = new float[4];
        ImportanceSampling.PerDecisionWeights(logProb, logProb, Rewards, Ends, 0.9, w);
        ReturnWeighting.RewardToGo(Rewards, Ends, 0.9, rtg);
        for (int i = 0; i < 4; i++) Assert.Equal(rtg[i], w[i], 5);
    }

    [Fact]
    public void MarginalRatioWeights()
    {
        float[] logOld = [0, 0, 0, 0];
        float[] logNew = [(float)Math.Log(2), (float)Math.Log(0.5), 0, (float)Math.Log(4)];
        float[] w = new float[4];
        ImportanceSampling.MarginalRatioWeights(logNew, logOld, [3, 2, 7, 4], w);
        Assert.Equal(6, w[0], 5);
        Assert.Equal(1, w[1], 5);
        Assert.Equal(7, w[2], 5);
        Assert.Equal(16, w[3], 4);
    }

    [Fact]
    public void KlPenaltyPpo1DoublesAndHalves()
    {
        var penalty = new AdaptiveKlPenalty(KlPenaltyRule.DoubleOrHalve, 1.0, klMin: 0.005, klMax: 0.02, targetKl: 0, adaptationRate: 0);
        Assert.Equal(2.0, penalty.Update(0.03));
        Assert.Equal(2.0, penalty.Update(0.01));
        Assert.Equal(1.0, penalty.Update(0.001));
        Assert.Equal(1.0, penalty.Update(double.NaN));
    }

    [Fact]
    public void KlPenaltyNote004Proportional()
    {
        var penalty = new AdaptiveKlPenalty(KlPenaltyRule.Proportional, 1.0, 0, 0, targetKl: 0.01, adaptationRate: 10);
        Assert.Equal(1.0 + 10 * (0.05 - 0.01), penalty.Update(0.05), 12);
        Assert.Equal(0.0, penalty.Update(-1.0), 12); // clamped at 0
    }
}
