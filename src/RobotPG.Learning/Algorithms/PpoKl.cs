using RobotPG.Learning.Advantages;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// PPO with the adaptive KL penalty (note 003 PPO1; note 004 Method 1; note 001 "penalty instead of a
/// constraint"): maximise L(θ) = Ê[π_θ(aₜ|sₜ)/π_θk(aₜ|sₜ) Âₜ] − β Ê[KL(π_θk(·|sₜ) ‖ π_θ(·|sₜ))] by Adam over
/// epochs of shuffled minibatches, then adapt β from the batch's mean KL — doubling/halving outside
/// [KLmin, KLmax] (PPO1) or β ← β + α(KL − ε) (004). Â is GAE(γ, λ), standardised per rollout; the
/// critic is fitted separately on the λ-returns. Allocation-free after construction.
/// </summary>
public sealed class PpoKl : IPolicyGradientAlgorithm
{
    private readonly EstimatorHyperparameters _h;
    private readonly PolicyGradientBatch _batch;
    private readonly Adam _adam;
    private readonly ValueFitting _valueFitting;
    private readonly float[] _oldMeans, _oldLogStd;
    private readonly int[] _indices;
    private readonly float[] _mbObservations, _mbActions, _mbOldLogProbs, _mbAdvantages, _mbOldMeans, _mbLogProbs, _mbWeights;
    private Prng _shuffle;

    public PpoKl(EstimatorHyperparameters hyperparameters, in AlgorithmContext context)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        if (hyperparameters.Validate() is string problem) throw new ArgumentException($"ppo-kl: {problem}", nameof(hyperparameters));
        _h = hyperparameters;
        int n = _h.BatchSize, m = n / _h.Minibatches, o = context.ObservationSize, a = context.ActionSize;
        Agent = _h.CreateAgent(context);
        Rollout = _h.CreateRolloutSettings();
        _batch = new PolicyGradientBatch(n, o, a);
        _adam = new Adam(Agent.Policy.ParameterCount, _h.PolicyLearningRate, epsilon: 1e-5f);
        _valueFitting = _h.CreateValueFitting(Agent, context.Seed ^ 0x9B0_1CUL);
        Penalty = new AdaptiveKlPenalty(_h.KlRule, _h.InitialBeta, _h.KlMin, _h.KlMax, _h.TargetKl, _h.BetaRate);
        _oldMeans = new float[n * a];
        _oldLogStd = new float[a];
        _indices = new int[n];
        _mbObservations = new float[m * o];
        _mbActions = new float[m * a];
        _mbOldLogProbs = new float[m];
        _mbAdvantages = new float[m];
        _mbOldMeans = new float[m * a];
        _mbLogProbs = new float[m];
        _mbWeights = new float[m];
        _shuffle = new Prng(context.Seed ^ 0x9B0_5EEDUL);
    }

    public string Name => EstimatorAlgorithms.PpoKl;
    public ActorCritic Agent { get; }
    public RolloutSettings Rollout { get; }
    public AdaptiveKlPenalty Penalty { get; }

    /// <summary>Mean KL(π_old ‖ π_new) over the last rollout, the value β adapted to.</summary>
    public float LastKl { get; private set; }

    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        GaeEstimator.Estimate(rollout, _h.Gamma, _h.GaeLambda);
        _batch.Load(rollout);
        int n = _batch.Capacity, m = _mbLogProbs.Length, o = _batch.ObservationSize, a = _batch.ActionSize;
        float[] advantages = _batch.Advantages, returns = _batch.Returns;
        AdvantageStandardization.Standardize(advantages);
        var policy = Agent.Policy;
        policy.MeanBatch(_batch.Observations, n, _oldMeans);
        policy.LogStd.CopyTo(_oldLogStd);
        for (int i = 0; i < n; i++) _indices[i] = i;
        float beta = (float)Penalty.Beta;
        double surrogate = 0;
        for (int epoch = 0; epoch < _h.Epochs; epoch++)
        {
            _shuffle.Shuffle(_indices);
            for (int start = 0; start + m <= n; start += m)
            {
                ReadOnlySpan<int> picked = _indices.AsSpan(start, m);
                Minibatch.Gather(picked, _batch.Observations, o, _mbObservations);
                Minibatch.Gather(picked, _batch.Actions, a, _mbActions);
                Minibatch.Gather(picked, _oldMeans, a, _mbOldMeans);
                Minibatch.Gather(picked, _batch.LogProbs, 1, _mbOldLogProbs);
                Minibatch.Gather(picked, advantages, 1, _mbAdvantages);
                policy.ZeroGradients();
                policy.LogProbBatch(_mbObservations, _mbActions, m, _mbLogProbs);
                surrogate = 0;
                for (int k = 0; k < m; k++)
                {
                    // ∇ρ = ρ ∇log π; Adam minimises −L.
                    float ratioAdvantage = MathF.Exp(_mbLogProbs[k] - _mbOldLogProbs[k]) * _mbAdvantages[k];
                    surrogate += ratioAdvantage;
                    _mbWeights[k] = -ratioAdvantage / m;
                }
                policy.AccumulateLogProbGradient(_mbWeights, m);
                policy.KlDivergence(_mbOldMeans, _oldLogStd, _mbObservations, m);
                policy.AccumulateKlGradient(beta);
                _adam.Step(policy.Parameters, policy.Gradients);
            }
        }
        LastKl = policy.KlDivergence(_oldMeans, _oldLogStd, _batch.Observations, n);
        Penalty.Update(LastKl);
        float explained = PpoLoss.ExplainedVariance(_batch.Values, returns);
        float valueLoss = _valueFitting.Fit(_batch.Observations, returns, n, _h.ValueEpochs, _h.ValueTrustPenalty);
        return new UpdateDiagnostics((float)(-surrogate / m), valueLoss, policy.Entropy(), LastKl, float.NaN, explained, _h.PolicyLearningRate, _h.Epochs);
    }
}
