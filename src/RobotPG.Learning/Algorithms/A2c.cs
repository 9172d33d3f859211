using RobotPG.Learning.Advantages;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// Synchronous advantage actor-critic with n-step returns (note 001, "A3C and GAE" → Algorithm):
/// Q̂ₜ = rₜ + γ rₜ₊₁ + … + γ^{k−1} rₜ₊ₖ₋₁ + γ^k V(sₜ₊ₖ), k ≤ n the steps left in the rollout of n =
/// <see cref="EstimatorHyperparameters.StepsPerEnvironment"/> steps (0 beyond termination), from
/// several environments stepped in lockstep instead of A3C's asynchronous workers.
/// θ ← θ + α (1/m) Σ ∇log π(aₜ|sₜ)(Q̂ₜ − V_φᵢ(sₜ)); φ ← argmin Σ ‖Q̂ − V_φ(s)‖² + κ‖φ − φᵢ‖² by
/// <see cref="EstimatorHyperparameters.ValueEpochs"/> Adam passes. Allocation-free after construction.
/// </summary>
public sealed class A2c : IPolicyGradientAlgorithm
{
    private readonly EstimatorHyperparameters _h;
    private readonly PolicyGradientBatch _batch;
    private readonly Adam _adam;
    private readonly ValueFitting _valueFitting;
    private readonly float[] _rewards, _returns, _weights, _logProbs;

    public A2c(EstimatorHyperparameters hyperparameters, in AlgorithmContext context)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        if (hyperparameters.Validate() is string problem) throw new ArgumentException($"a2c: {problem}", nameof(hyperparameters));
        _h = hyperparameters;
        int n = _h.BatchSize;
        Agent = _h.CreateAgent(context);
        Rollout = _h.CreateRolloutSettings();
        _batch = new PolicyGradientBatch(n, context.ObservationSize, context.ActionSize);
        _adam = new Adam(Agent.Policy.ParameterCount, _h.PolicyLearningRate, epsilon: 1e-5f);
        _valueFitting = _h.CreateValueFitting(Agent, context.Seed ^ 0xA2C0UL);
        _rewards = new float[n];
        _returns = new float[n];
        _weights = new float[n];
        _logProbs = new float[n];
    }

    public string Name => EstimatorAlgorithms.A2c;
    public ActorCritic Agent { get; }
    public RolloutSettings Rollout { get; }

    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        _batch.Load(rollout);
        int n = _batch.Capacity;
        _batch.BootstrappedRewards(_h.Gamma, true, _rewards);
        // Runs are at most n steps long, so the bootstrapped reward-to-go is the n-step return.
        ReturnWeighting.RewardToGo(_rewards, _batch.TrajectoryEnds, _h.Gamma, _returns);
        var policy = Agent.Policy;
        double loss = 0;
        policy.LogProbBatch(_batch.Observations, _batch.Actions, n, _logProbs);
        for (int k = 0; k < n; k++)
        {
            float advantage = _returns[k] - _batch.Values[k];
            loss -= _logProbs[k] * advantage;
            _weights[k] = advantage;
        }
        if (_h.NormalizeAdvantages) AdvantageStandardization.Standardize(_weights);
        for (int k = 0; k < n; k++) _weights[k] *= -1f / n;
        policy.ZeroGradients();
        policy.AccumulateLogProbGradient(_weights, n);
        _adam.Step(policy.Parameters, policy.Gradients);
        float explained = PpoLoss.ExplainedVariance(_batch.Values, _returns);
        float valueLoss = _valueFitting.Fit(_batch.Observations, _returns, n, _h.ValueEpochs, _h.ValueTrustPenalty);
        return new UpdateDiagnostics((float)(loss / n), valueLoss, policy.Entropy(), float.NaN, float.NaN, explained, _h.PolicyLearningRate, 1);
    }
}
