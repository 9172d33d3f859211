namespace RobotPG.Learning.Normalization;

/// <summary>
/// Gymnasium's NormalizeReward (v1): keeps a running discounted return G ← γ·G·(1 − terminated) + r,
/// tracks its variance, and returns r / √(Var[G] + ε) (no mean subtraction, as in baselines).
/// </summary>
public sealed class RewardScaler
{
    private readonly RunningMeanStd _returnStatistics;
    private readonly float[] _one = new float[1];

    public RewardScaler(double gamma, double epsilon = 1e-8)
    {
        if (!(gamma >= 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "must be in [0, 1]");
        Gamma = gamma;
        _returnStatistics = new RunningMeanStd(1, epsilon);
    }

    public double Gamma { get; }
    public double Epsilon => _returnStatistics.Epsilon;

    /// <summary>The running discounted return G.</summary>
    public double DiscountedReturn { get; private set; }

    /// <summary>Statistics of G (size 1).</summary>
    public RunningMeanStd ReturnStatistics => _returnStatistics;

    /// <summary>When false the statistics are frozen (evaluation); G is still tracked.</summary>
    public bool UpdateStatistics { get; set; } = true;

    /// <summary>
    /// The scaled reward of one step. <paramref name="terminated"/> is the step's own flag; as in
    /// Gymnasium it zeroes the carried return before this reward is added.
    /// </summary>
    public float Scale(float reward, bool terminated)
    {
        DiscountedReturn = DiscountedReturn * Gamma * (terminated ? 0.0 : 1.0) + reward;
        if (UpdateStatistics)
        {
            _one[0] = (float)DiscountedReturn;
            _returnStatistics.Update(_one);
        }
        return (float)(reward / Math.Sqrt(_returnStatistics.Variance[0] + _returnStatistics.Epsilon));
    }

    /// <summary>Sets the carried return (checkpoint restore, or 0 to forget it).</summary>
    public void Restore(double discountedReturn, ReadOnlySpan<double> mean, ReadOnlySpan<double> variance, double count)
    {
        if (!double.IsFinite(discountedReturn)) throw new ArgumentOutOfRangeException(nameof(discountedReturn), discountedReturn, "must be finite");
        DiscountedReturn = discountedReturn;
        _returnStatistics.Restore(mean, variance, count);
    }
}
