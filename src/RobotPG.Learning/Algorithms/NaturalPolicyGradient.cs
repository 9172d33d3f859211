using RobotPG.Learning.Advantages;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// Natural policy gradient (note 004 Method 2; note 001 "Nature Gradient") and TRPO (note 001 "Trust
/// Region Policy Optimization") — one class, because TRPO is the natural-gradient direction plus a line
/// search. Per rollout: Â = GAE(γ, λ) standardised; g = (1/N) Σ ∇log π(aₜ|sₜ) Âₜ; x ≈ (F + λI)⁻¹g by
/// <see cref="EstimatorHyperparameters.ConjugateGradientIterations"/> CG iterations on the exact
/// Fisher-vector product; full step Δ = sqrt(2ε) x / sqrt(gᵀx). NPG takes Δ. TRPO backtracks
/// (<see cref="BacktrackingLineSearch"/>) until mean KL(π_old ‖ π_θ) ≤ δ and the surrogate
/// Ê[ρₜ Âₜ] improves, else keeps θ. The critic is fitted separately (Adam on the λ-returns).
/// Defaults as SpinningUp: CG 10, damping 0.1, δ 0.01, backtrack 0.8 × 10. Allocation-free after construction.
/// </summary>
public sealed class NaturalPolicyGradient : IPolicyGradientAlgorithm
{
    private readonly EstimatorHyperparameters _h;
    private readonly bool _lineSearch;
    private readonly PolicyGradientBatch _batch;
    private readonly ValueFitting _valueFitting;
    private readonly ConjugateGradient<float> _cg;
    private readonly BacktrackingLineSearch _search;
    private readonly float[] _oldMeans, _oldLogStd, _oldLogProbs, _logProbs;
    private readonly float[] _gradient, _direction, _step, _start, _accepted;

    public NaturalPolicyGradient(EstimatorHyperparameters hyperparameters, in AlgorithmContext context, bool lineSearch)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        _lineSearch = lineSearch;
        if (hyperparameters.Validate() is string problem) throw new ArgumentException($"{Name}: {problem}", nameof(hyperparameters));
        _h = hyperparameters;
        int n = _h.BatchSize, o = context.ObservationSize, a = context.ActionSize;
        Agent = _h.CreateAgent(context);
        Rollout = _h.CreateRolloutSettings();
        _batch = new PolicyGradientBatch(n, o, a);
        _valueFitting = _h.CreateValueFitting(Agent, context.Seed ^ 0x7290UL);
        int p = Agent.Policy.ParameterCount;
        _cg = new ConjugateGradient<float>(p);
        _search = new BacktrackingLineSearch(p, _h.MaxKl, _h.BacktrackRatio, _h.MaxBacktracks);
        _oldMeans = new float[n * a];
        _oldLogStd = new float[a];
        _oldLogProbs = new float[n];
        _logProbs = new float[n];
        _gradient = new float[p];
        _direction = new float[p];
        _step = new float[p];
        _start = new float[p];
        _accepted = new float[p];
    }

    public string Name => _lineSearch ? EstimatorAlgorithms.Trpo : EstimatorAlgorithms.Npg;
    public ActorCritic Agent { get; }
    public RolloutSettings Rollout { get; }

    /// <summary>Mean KL(π_old ‖ π_new) of the step taken by the last update (0 when TRPO kept θ).</summary>
    public double LastKl { get; private set; }

    /// <summary>The last TRPO line search (default for NPG).</summary>
    public LineSearchResult LastLineSearch { get; private set; }

    /// <summary>The last CG solve.</summary>
    public ConjugateGradientResult LastConjugateGradient { get; private set; }

    private struct FisherOperator(GaussianPolicy policy, float[] observations, int count) : ILinearOperator<float>
    {
        public readonly void Apply(ReadOnlySpan<float> x, Span<float> result) => policy.FisherVectorProduct(observations, count, x, result);
    }

    private struct Surrogate(NaturalPolicyGradient owner) : ITrustRegionObjective
    {
        public readonly void Evaluate(ReadOnlySpan<float> parameters, out double surrogate, out double meanKl) =>
            owner.EvaluateSurrogate(parameters, out surrogate, out meanKl);
    }

    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        GaeEstimator.Estimate(rollout, _h.Gamma, _h.GaeLambda);
        _batch.Load(rollout);
        int n = _batch.Capacity;
        float[] advantages = _batch.Advantages, returns = _batch.Returns;
        AdvantageStandardization.Standardize(advantages);
        GaussianPolicy policy = Agent.Policy;
        policy.Parameters.CopyTo(_start);
        policy.MeanBatch(_batch.Observations, n, _oldMeans);
        policy.LogStd.CopyTo(_oldLogStd);

        // g = (1/N) Σ ∇log π Â (ascent direction).
        policy.ZeroGradients();
        policy.LogProbBatch(_batch.Observations, _batch.Actions, n, _oldLogProbs);
        for (int k = 0; k < n; k++) _logProbs[k] = advantages[k] / n;
        policy.AccumulateLogProbGradient(_logProbs, n);
        policy.Gradients.CopyTo(_gradient);

        var fisher = new FisherOperator(policy, _batch.Observations, n);
        LastConjugateGradient = _cg.Solve(ref fisher, _gradient, _direction, _h.ConjugateGradientIterations, _h.Damping);
        NaturalGradientStep.Compute(_gradient, _direction, _h.MaxKl, _step);

        if (_lineSearch)
        {
            var objective = new Surrogate(this);
            objective.Evaluate(_start, out double startSurrogate, out _);
            LastLineSearch = _search.Search(ref objective, _start, _step, startSurrogate, _accepted);
            _accepted.CopyTo(policy.Parameters);
            LastKl = LastLineSearch.Accepted ? LastLineSearch.MeanKl : 0;
        }
        else
        {
            for (int i = 0; i < _start.Length; i++) policy.Parameters[i] = _start[i] + _step[i];
            LastKl = policy.KlDivergence(_oldMeans, _oldLogStd, _batch.Observations, n);
        }

        float explained = PpoLoss.ExplainedVariance(_batch.Values, returns);
        float valueLoss = _valueFitting.Fit(_batch.Observations, returns, n, _h.ValueEpochs, _h.ValueTrustPenalty);
        return new UpdateDiagnostics(float.NaN, valueLoss, policy.Entropy(), (float)LastKl, float.NaN, explained, float.NaN, 1);
    }

    /// <summary>Surrogate Ê[exp(log π_θ − log π_old) Â] and mean KL(π_old ‖ π_θ) at θ = <paramref name="parameters"/>.</summary>
    private void EvaluateSurrogate(ReadOnlySpan<float> parameters, out double surrogate, out double meanKl)
    {
        GaussianPolicy policy = Agent.Policy;
        int n = _batch.Capacity;
        parameters.CopyTo(policy.Parameters);
        policy.LogProbBatch(_batch.Observations, _batch.Actions, n, _logProbs);
        double sum = 0;
        for (int k = 0; k < n; k++) sum += Math.Exp(_logProbs[k] - _oldLogProbs[k]) * _batch.Advantages[k];
        surrogate = sum / n;
        meanKl = policy.KlDivergence(_oldMeans, _oldLogStd, _batch.Observations, n);
    }
}
