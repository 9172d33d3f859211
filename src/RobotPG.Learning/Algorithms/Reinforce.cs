using RobotPG.Learning.Advantages;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// REINFORCE (note 000 eq. (13), formulas (a)/(b); note 001 "REINFORCE 算法") with every baseline of
/// note 001, and — configured with reward-to-go and the state-value baseline — the vanilla policy
/// gradient loop of note 001 ("Vanilla Policy Gradient": returns Rₜ = Σ γ^{t'−t} r_{t'}, Âₜ = Rₜ − b(sₜ),
/// re-fit b by minimising ‖b(sₜ) − Rₜ‖², step along Σ ∇log π(aₜ|sₜ) Âₜ). One Adam step per rollout on
/// ĝ = (1/N) Σᵢ Σₜ ∇log π(a_{it}|s_{it}) w_{it}, N the number of trajectories.
/// Trajectories cut by the rollout's end are bootstrapped with V only when V is the baseline (a
/// critic-free REINFORCE has no value to continue with and treats the cut as the end).
/// The optimal constant baselines use trajectory-level scores (note 001's b over ∇log P(τ)), accumulated
/// trajectory by trajectory so no m × n matrix is stored; they are fitted on the batch they weight
/// (the usual practice), which biases ĝ by O(1/m) — see <see cref="OptimalConstantBaseline.Gradient"/>.
/// Allocation-free after construction.
/// </summary>
public sealed class Reinforce : IPolicyGradientAlgorithm
{
    private readonly EstimatorHyperparameters _h;
    private readonly PolicyGradientBatch _batch;
    private readonly Adam _adam;
    private readonly ValueFitting _valueFitting;
    private readonly TimeDependentBaseline _timeBaseline;
    private readonly float[] _rewards, _weights, _targets, _scratch, _logProbs, _ones;
    private readonly OptimalConstantBaseline _optimalBaseline;
    private readonly double[] _baseline;

    public Reinforce(EstimatorHyperparameters hyperparameters, in AlgorithmContext context, string name = EstimatorAlgorithms.Reinforce)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        if (hyperparameters.Validate() is string problem) throw new ArgumentException($"{name}: {problem}", nameof(hyperparameters));
        _h = hyperparameters;
        Name = name;
        int n = _h.BatchSize;
        Agent = _h.CreateAgent(context);
        Rollout = _h.CreateRolloutSettings();
        _batch = new PolicyGradientBatch(n, context.ObservationSize, context.ActionSize);
        _adam = new Adam(Agent.Policy.ParameterCount, _h.PolicyLearningRate, epsilon: 1e-5f);
        _valueFitting = _h.CreateValueFitting(Agent, context.Seed ^ 0x5EED_7A1EUL);
        _timeBaseline = new TimeDependentBaseline(_h.StepsPerEnvironment);
        _rewards = new float[n];
        _weights = new float[n];
        _targets = new float[n];
        _scratch = new float[n];
        _logProbs = new float[n];
        _ones = new float[n];
        Array.Fill(_ones, 1f);
        int p = Agent.Policy.ParameterCount;
        _optimalBaseline = new OptimalConstantBaseline(p);
        _baseline = new double[p];
    }

    public string Name { get; }
    public ActorCritic Agent { get; }
    public RolloutSettings Rollout { get; }
    public EstimatorHyperparameters Hyperparameters => _h;

    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        _batch.Load(rollout);
        int n = _batch.Capacity;
        bool critic = _h.Baseline == BaselineKind.StateValue;
        ReadOnlySpan<bool> ends = _batch.TrajectoryEnds;
        _batch.BootstrappedRewards(_h.Gamma, critic, _rewards);
        ReturnWeighting.RewardToGo(_rewards, ends, _h.Gamma, _targets);

        var policy = Agent.Policy;
        policy.ZeroGradients();
        float policyLoss;
        if (_h.Baseline is BaselineKind.OptimalConstantScalar or BaselineKind.OptimalConstantPerParameter)
            policyLoss = OptimalConstantStep();
        else
        {
            ReturnWeighting.Compute(_h.Weighting, _rewards, ends, _h.Gamma, _weights);
            switch (_h.Baseline)
            {
                case BaselineKind.MeanReturn:
                    ConstantBaseline.Subtract(_weights, ConstantBaseline.MeanReturn(_weights, ends));
                    break;
                case BaselineKind.TimeDependent:
                    _timeBaseline.Subtract(_weights, _batch.EpisodeSteps, _scratch);
                    break;
                case BaselineKind.StateValue:
                    StateValueBaseline.Subtract(_weights, _batch.Values);
                    break;
            }
            if (_h.DiscountFromTrajectoryStart) ReturnWeighting.ApplyDiscountFromEpisodeStart(_batch.EpisodeSteps, _h.Gamma, _weights);
            if (_h.NormalizeAdvantages) AdvantageStandardization.Standardize(_weights);
            policy.LogProbBatch(_batch.Observations, _batch.Actions, n, _logProbs);
            float scale = -1f / _batch.TrajectoryCount; // Adam minimises: the loss is −(1/N) Σ log π · w.
            double loss = 0;
            for (int k = 0; k < n; k++)
            {
                loss -= _logProbs[k] * _weights[k];
                _scratch[k] = scale * _weights[k];
            }
            policyLoss = (float)(loss / _batch.TrajectoryCount);
            policy.AccumulateLogProbGradient(_scratch, n);
        }
        _adam.Step(policy.Parameters, policy.Gradients);

        float valueLoss = float.NaN, explained = float.NaN;
        if (critic)
        {
            explained = PpoLoss.ExplainedVariance(_batch.Values, _targets);
            if (_h.TemporalDifferenceValueTargets) _batch.TemporalDifferenceTargets(_h.Gamma, _targets);
            valueLoss = _valueFitting.Fit(_batch.Observations, _targets, n, _h.ValueEpochs, _h.ValueTrustPenalty);
        }
        return new UpdateDiagnostics(policyLoss, valueLoss, policy.Entropy(), float.NaN, float.NaN, explained, _h.PolicyLearningRate, 1);
    }

    /// <summary>
    /// ĝ = (1/m) Σᵢ sᵢ (Rᵢ − b), sᵢ = ∇log P(τᵢ), Rᵢ the trajectory's return, b per parameter or scalar
    /// (note 001, <see cref="OptimalConstantBaseline"/>), built one trajectory at a time.
    /// </summary>
    private float OptimalConstantStep()
    {
        var policy = Agent.Policy;
        int o = _batch.ObservationSize, a = _batch.ActionSize;
        _optimalBaseline.Clear();
        ReturnWeighting.WholeTrajectoryReturn(_rewards, _batch.TrajectoryEnds, _h.Gamma, _weights);
        int start = 0;
        while (start < _batch.Capacity)
        {
            int end = ReturnWeighting.TrajectoryEnd(_batch.TrajectoryEnds, start);
            int length = end - start + 1;
            policy.ZeroGradients();
            policy.LogProbBatch(_batch.Observations.AsSpan(start * o, length * o), _batch.Actions.AsSpan(start * a, length * a), length, _logProbs);
            policy.AccumulateLogProbGradient(_ones, length);
            _optimalBaseline.Add(policy.Gradients, _weights[start]);
            start = end + 1;
        }
        if (_h.Baseline == BaselineKind.OptimalConstantPerParameter) _optimalBaseline.PerParameter(_baseline);
        else Array.Fill(_baseline, _optimalBaseline.Scalar());
        Span<float> gradient = policy.Gradients;
        _optimalBaseline.Gradient(_baseline, gradient);
        for (int j = 0; j < gradient.Length; j++) gradient[j] = -gradient[j]; // Adam minimises −ĝ
        return float.NaN;
    }
}
