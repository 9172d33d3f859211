using RobotPG.Learning.Networks;
using RobotPG.Numerics;

namespace RobotPG.Learning.Estimators;

/// <summary>
/// A linear Gaussian policy a ~ N(W s + b, diag(σ²)) with σ = exp(log σ) — note 001 "Continuous Action"
/// (N(f(s), Σ) with f linear), the small policy note 002's finite-difference and regression gradients
/// suit. Parameters in double, laid out flat as θ = [W (row-major, actions × observations), b, log σ].
/// Score (note 001): ∂log π/∂μ = (a − μ)/σ², ∂log π/∂log σ = (a − μ)²/σ² − 1.
/// Allocation-free after construction.
/// </summary>
public sealed class LinearGaussianPolicy
{
    private readonly double[] _parameters;
    private readonly double[] _mean;

    public LinearGaussianPolicy(int observationSize, int actionSize, double initialLogStd = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(observationSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        ObservationSize = observationSize;
        ActionSize = actionSize;
        _parameters = new double[actionSize * (observationSize + 2)];
        _mean = new double[actionSize];
        LogStd.Fill(initialLogStd);
    }

    public int ObservationSize { get; }
    public int ActionSize { get; }
    public int ParameterCount => _parameters.Length;

    /// <summary>θ = [W, b, log σ], flat.</summary>
    public Span<double> Parameters => _parameters;

    /// <summary>Parameters of the mean only (W and b): the ones finite differences and regression perturb.</summary>
    public Span<double> MeanParameters => _parameters.AsSpan(0, ActionSize * (ObservationSize + 1));

    public Span<double> LogStd => _parameters.AsSpan(ActionSize * (ObservationSize + 1), ActionSize);

    /// <summary>μ = W s + b.</summary>
    public void Mean(ReadOnlySpan<float> observation, Span<double> mean) => Mean(_parameters, observation, mean);

    /// <summary>μ = W s + b under the given parameters θ (same layout as <see cref="Parameters"/>).</summary>
    public void Mean(ReadOnlySpan<double> parameters, ReadOnlySpan<float> observation, Span<double> mean)
    {
        int o = ObservationSize, k = ActionSize;
        for (int i = 0; i < k; i++)
        {
            double sum = parameters[k * o + i];
            for (int j = 0; j < o; j++) sum += parameters[i * o + j] * observation[j];
            mean[i] = sum;
        }
    }

    /// <summary>a = μ + σ ε with ε ~ N(0, I) from <paramref name="rng"/>.</summary>
    public void Sample(ReadOnlySpan<float> observation, ref Prng rng, Span<float> action)
    {
        Mean(observation, _mean);
        ReadOnlySpan<double> logStd = LogStd;
        for (int i = 0; i < ActionSize; i++) action[i] = (float)(_mean[i] + Math.Exp(logStd[i]) * rng.NextGaussian());
    }

    /// <summary>log π(a|s) = Σᵢ [−(aᵢ − μᵢ)²/(2σᵢ²) − log σᵢ − ½ log 2π].</summary>
    public double LogProb(ReadOnlySpan<float> observation, ReadOnlySpan<float> action) => LogProb(_parameters, observation, action);

    public double LogProb(ReadOnlySpan<double> parameters, ReadOnlySpan<float> observation, ReadOnlySpan<float> action)
    {
        Mean(parameters, observation, _mean);
        ReadOnlySpan<double> logStd = parameters.Slice(ActionSize * (ObservationSize + 1), ActionSize);
        double sum = 0;
        for (int i = 0; i < ActionSize; i++) sum += DiagonalGaussian.LogDensity(action[i] - _mean[i], logStd[i]);
        return sum;
    }

    /// <summary>gradient += weight · ∇_θ log π(a|s).</summary>
    public void AccumulateLogProbGradient(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, double weight, Span<double> gradient)
    {
        int o = ObservationSize, k = ActionSize;
        Mean(observation, _mean);
        ReadOnlySpan<double> logStd = LogStd;
        for (int i = 0; i < k; i++)
        {
            double diff = action[i] - _mean[i];
            double dMean = weight * DiagonalGaussian.MeanScore(diff, logStd[i]);
            for (int j = 0; j < o; j++) gradient[i * o + j] += dMean * observation[j];
            gradient[k * o + i] += dMean;
            gradient[k * (o + 1) + i] += weight * DiagonalGaussian.LogStdScore(diff, logStd[i]);
        }
    }
}
