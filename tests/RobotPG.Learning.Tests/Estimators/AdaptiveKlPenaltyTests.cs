using RobotPG.Learning.Estimators;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>β's rules at the edges of their bands (note 003 PPO1, note 004 Method 1) and the settings they refuse.</summary>
public class AdaptiveKlPenaltyTests
{
    [Fact]
    public void Ppo1KeepsBetaWhenTheKlSitsExactlyOnEitherEdgeOfTheBand()
    {
        // The note doubles only for KL > KLmax and halves only for KL < KLmin: the edges are inside the band.
        var penalty = new AdaptiveKlPenalty(KlPenaltyRule.DoubleOrHalve, 0.75, klMin: 0.005, klMax: 0.02, targetKl: 0, adaptationRate: 0);
        Assert.Equal(0.75, penalty.Update(0.02));
        Assert.Equal(0.75, penalty.Update(0.005));
        Assert.Equal(1.5, penalty.Update(0.020001));
        Assert.Equal(0.75, penalty.Update(0.004999));
    }

    [Fact]
    public void ZeroBetaAndZeroKlMinAreValidSettings()
    {
        // β = 0 starts without a penalty; PPO1 doubles 0 to 0, the proportional rule grows it from 0.
        var ppo1 = new AdaptiveKlPenalty(KlPenaltyRule.DoubleOrHalve, 0, klMin: 0, klMax: 0.02, targetKl: 0, adaptationRate: 0);
        Assert.Equal(0.0, ppo1.Beta);
        Assert.Equal(0.0, ppo1.Update(1.0));
        var proportional = new AdaptiveKlPenalty(KlPenaltyRule.Proportional, 0, 0, 0, targetKl: 0.01, adaptationRate: 10);
        Assert.Equal(10 * (0.03 - 0.01), proportional.Update(0.03), 15);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    public void RefusesANegativeOrNonFiniteBeta(double beta) =>
        Rejects.With<ArgumentOutOfRangeException>(() => new AdaptiveKlPenalty(KlPenaltyRule.DoubleOrHalve, beta, 0.005, 0.02, 0, 0), "β must be finite and ≥ 0");

    [Theory]
    [InlineData(0.01, 0.01)]  // an empty band
    [InlineData(-0.01, 0.02)] // a negative KL never occurs: the band would never halve β
    [InlineData(0.02, 0.01)]
    public void Ppo1RefusesABandThatIsNotZeroToMinToMax(double klMin, double klMax) =>
        Rejects.With<ArgumentException>(() => new AdaptiveKlPenalty(KlPenaltyRule.DoubleOrHalve, 1, klMin, klMax, 0, 0), "PPO1 needs 0 ≤ KLmin < KLmax");

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.01, 0.0)]
    [InlineData(-0.01, 1.0)]
    public void ProportionalRuleRefusesANonPositiveTargetOrRate(double targetKl, double rate) =>
        Rejects.With<ArgumentException>(() => new AdaptiveKlPenalty(KlPenaltyRule.Proportional, 1, 0, 0, targetKl, rate), "needs ε > 0 and α > 0");
}
