using RobotPG.Learning.Estimators;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>The return and importance weightings refuse spans that do not hold one entry per step, and γ outside (0, 1].</summary>
public class WeightingArgumentTests
{
    private static readonly float[] Four = new float[4], Three = new float[3];
    private static readonly bool[] Ends = [false, true, false, true];

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void ReturnWeightingsRefuseADiscountOutsideZeroToOne(double gamma)
    {
        Rejects.With<ArgumentOutOfRangeException>(() => ReturnWeighting.RewardToGo(Four, Ends, gamma, new float[4]), "discount must be in (0, 1]");
        Rejects.With<ArgumentOutOfRangeException>(() => ReturnWeighting.WholeTrajectoryReturn(Four, Ends, gamma, new float[4]), "discount must be in (0, 1]");
    }

    [Fact]
    public void ReturnWeightingsRefuseSpansOfTheWrongLength()
    {
        Rejects.With<ArgumentException>(() => ReturnWeighting.RewardToGo(Four, [true, true, true], 1, new float[4]), "rewards (4), trajectory ends (3) and weights (4)");
        Rejects.With<ArgumentException>(() => ReturnWeighting.RewardToGo(Four, Ends, 1, new float[3]), "rewards (4), trajectory ends (4) and weights (3)");
        Rejects.With<ArgumentException>(() => ReturnWeighting.WholeTrajectoryReturn(Four, Ends, 1, new float[5]), "rewards (4), trajectory ends (4) and weights (5)");
        Rejects.With<ArgumentException>(() => ReturnWeighting.ApplyDiscountFromEpisodeStart([0, 1, 2], 0.9, new float[4]), "need one episode step per weight (4), got 3");
    }

    [Fact]
    public void ImportanceWeightsRefuseSpansOfTheWrongLength()
    {
        const string perDecision = "log-probs, rewards, trajectory ends and weights need one entry per step";
        Rejects.With<ArgumentException>(() => ImportanceSampling.PerDecisionWeights(Three, Four, Four, Ends, 1, new float[4]), perDecision);
        Rejects.With<ArgumentException>(() => ImportanceSampling.PerDecisionWeights(Four, Three, Four, Ends, 1, new float[4]), perDecision);
        Rejects.With<ArgumentException>(() => ImportanceSampling.PerDecisionWeights(Four, Four, Four, [true, true, true], 1, new float[4]), perDecision);
        Rejects.With<ArgumentException>(() => ImportanceSampling.PerDecisionWeights(Four, Four, Four, Ends, 1, new float[3]), perDecision);
        const string marginal = "log-probs, advantages and weights need one entry per step";
        Rejects.With<ArgumentException>(() => ImportanceSampling.MarginalRatioWeights(Three, Four, Four, new float[4]), marginal);
        Rejects.With<ArgumentException>(() => ImportanceSampling.MarginalRatioWeights(Four, Three, Four, new float[4]), marginal);
        Rejects.With<ArgumentException>(() => ImportanceSampling.MarginalRatioWeights(Four, Four, Four, new float[3]), marginal);
    }
}
