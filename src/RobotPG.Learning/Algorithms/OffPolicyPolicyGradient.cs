using RobotPG.Learning.Advantages;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// Importance-sampled policy gradient reusing one rollout for several gradient steps (notes 001 and 003,
/// "on policy to off policy"): after the first step the data come from θ_old ≠ θ', so each step
/// re-weights ∇log π_θ'(aₜ|sₜ) by importance ratios — either the per-decision products with causality
/// (<see cref="ImportanceSampling.PerDecisionWeights"/>, on the bootstrapped rewards) or the
/// marginal-ratio approximation ρₜ Âₜ with Âₜ = R̂ₜ − V(sₜ) (<see cref="ImportanceSampling.MarginalRatioWeights"/>).
/// The critic is re-fitted on the Monte-Carlo returns afterwards. Allocation-free after construction.
/// </summary>
public sealed class OffPolicyPolicyGradient : IPolicyGradientAlgorithm
{
    private readonly EstimatorHyperparameters _h;
    private readonly PolicyGradientBatch _batch;
    private readonly Adam _adam;
    private readonly ValueFitting _valueFitting;
    private readonly float[] _rewards, _returns, _advantages, _weights, _logProbs;

    public OffPolicyPolicyGradient(EstimatorHyperparameters hyperparameters, in AlgorithmContext context)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        if (hyperparameters.Validate() is string problem) throw new ArgumentException($"off-policy: {problem}", nameof(hyperparameters));
        _h = hyperparameters;
        int n = _h.BatchSize;
        Agent = _h.CreateAgent(context);
        Rollout = _h.CreateRolloutSettings();
        _batch = new PolicyGradientBatch(n, context.ObservationSize, context.ActionSize);
        _adam = new Adam(Agent.Policy.ParameterCount, _h.PolicyLearningRate, epsilon: 1e-5f);
        _valueFitting = _h.CreateValueFitting(Agent, context.Seed ^ 0x0FF0UL);
        _rewards = new float[n];
        _returns = new float[n];
        _advantages = new float[n];
        _weights = new float[n];
        _logProbs = new float[n];
    }

    public string Name => EstimatorAlgorithms.OffPolicy;
    public ActorCritic Agent { get; }
    public RolloutSettings Rollout { get; }

    /// <summary>Largest |ρₜ − 1| seen in the last update (how far the reused data drifted off-policy).</summary>
    public float LastMaxRatioDeviation { get; private set; }

    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        _batch.Load(rollout);
        int n = _batch.Capacity;
        _batch.BootstrappedRewards(_h.Gamma, true, _rewards);
        ReturnWeighting.RewardToGo(_rewards, _batch.TrajectoryEnds, _h.Gamma, _returns);
        for (int k = 0; k < n; k++) _advantages[k] = _returns[k] - _batch.Values[k];
        if (_h.NormalizeAdvantages) AdvantageStandardization.Standardize(_advantages);
        var policy = Agent.Policy;
        float scale = -1f / _batch.TrajectoryCount;
        float maxDeviation = 0;
        for (int step = 0; step < _h.ReuseSteps; step++)
        {
            policy.LogProbBatch(_batch.Observations, _batch.Actions, n, _logProbs);
            if (_h.PerDecisionImportance)
                ImportanceSampling.PerDecisionWeights(_logProbs, _batch.LogProbs, _rewards, _batch.TrajectoryEnds, _h.Gamma, _weights);
            else
                ImportanceSampling.MarginalRatioWeights(_logProbs, _batch.LogProbs, _advantages, _weights);
            for (int k = 0; k < n; k++)
            {
                maxDeviation = Math.Max(maxDeviation, MathF.Abs(MathF.Exp(_logProbs[k] - _batch.LogProbs[k]) - 1f));
                _weights[k] *= scale;
            }
            policy.ZeroGradients();
            policy.AccumulateLogProbGradient(_weights, n);
            _adam.Step(policy.Parameters, policy.Gradients);
        }
        LastMaxRatioDeviation = maxDeviation;
        float explained = PpoLoss.ExplainedVariance(_batch.Values, _returns);
        float valueLoss = _valueFitting.Fit(_batch.Observations, _returns, n, _h.ValueEpochs, _h.ValueTrustPenalty);
        return new UpdateDiagnostics(float.NaN, valueLoss, policy.Entropy(), float.NaN, float.NaN, explained, _h.PolicyLearningRate, _h.ReuseSteps);
    }
}
