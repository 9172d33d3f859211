using RobotPG.Learning.Advantages;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// PPO-clip as CleanRL's <c>ppo_continuous_action.py</c>: GAE(γ, λ) (with the truncation bootstrap),
/// <see cref="PpoHyperparameters.Epochs"/> epochs over shuffled minibatches, per-minibatch advantage
/// normalisation, clipped surrogate, clipped value loss, entropy bonus, one Adam (ε 1e-5) over actor
/// and critic with a joint gradient-norm clip, linear learning-rate annealing, optional target-KL stop
/// after an epoch. Every buffer is allocated by the constructor.
/// With <see cref="PpoHyperparameters.ReplayBatches"/> K &gt; 1 an update trains on the last 1..K batches (the
/// rollout's environments, each with the behaviour log-probs of the policy that acted and values from the current
/// critic, <see cref="Rollouts.BatchReplay"/>): the ratio to the behaviour policy is the importance weight and the
/// clip is centred on c = π_θk/π_behaviour (GePPO, <see cref="PpoLoss"/>), θk the policy before the update; the same
/// with <see cref="PpoHyperparameters.OffPolicyData"/> (the fleet learner, whose robots act with older versions). GePPO
/// also narrows ε to 2ε/(K + 1) so the policies of K batches together stay within PPO's trust region; measured on
/// the balance-bot from scratch (batch 128, K = 4, seeds 1–8) that took 211 robot s against 145 with PPO's ε, so
/// ε stays and the learner's KL guard bounds each update.
/// </summary>
public sealed class Ppo : IPolicyGradientAlgorithm
{
    private readonly PpoHyperparameters _h;
    private readonly GaussianPolicy _policy;
    private readonly ValueNetwork _value;
    private readonly Adam _adam;
    private readonly int[] _indices;
    private readonly float[] _mbObservations, _mbActions, _mbOldLogProbs, _mbAdvantages, _mbReturns, _mbOldValues;
    private readonly float[] _newLogProbs, _newValues, _logProbGradients, _valueGradients;
    private readonly float[] _centreLogProbs, _mbCentreLogProbs;
    private Prng _shuffle;

    public Ppo(PpoHyperparameters hyperparameters, in AlgorithmContext context)
    {
        ArgumentNullException.ThrowIfNull(hyperparameters);
        if (hyperparameters.Validate() is string problem) throw new ArgumentException("PPO: " + problem, nameof(hyperparameters));
        _h = hyperparameters;
        int m = _h.MinibatchSize, obs = context.ObservationSize, act = context.ActionSize;
        Agent = new ActorCritic(obs, act, _h.PolicyHiddenSizes, _h.ValueHiddenSizes, m, context.Seed,
            _h.NormalizeObservations, _h.ObservationClip);
        _policy = Agent.Policy;
        _value = Agent.Value;
        _adam = new Adam(_policy.ParameterCount + _value.ParameterCount, _h.LearningRate, epsilon: _h.AdamEpsilon);
        Rollout = new RolloutSettings(_h.EnvironmentCount, _h.StepsPerEnvironment, _h.Gamma, _h.ScaleRewards, _h.RewardClip);
        _indices = new int[_h.BatchSize * _h.ReplayBatches];
        _centreLogProbs = _h.ClipsAroundPolicyBeforeUpdate ? new float[_h.BatchSize * _h.ReplayBatches] : [];
        _mbCentreLogProbs = _h.ClipsAroundPolicyBeforeUpdate ? new float[m] : [];
        _mbObservations = new float[m * obs];
        _mbActions = new float[m * act];
        _mbOldLogProbs = new float[m];
        _mbAdvantages = new float[m];
        _mbReturns = new float[m];
        _mbOldValues = new float[m];
        _newLogProbs = new float[m];
        _newValues = new float[m];
        _logProbGradients = new float[m];
        _valueGradients = new float[m];
        _shuffle = new Prng(context.Seed ^ 0x5050_4F5F_5348_5546UL);
    }

    public string Name => AlgorithmRegistry.Ppo;
    public ActorCritic Agent { get; }
    public RolloutSettings Rollout { get; }
    public PpoHyperparameters Hyperparameters => _h;

    /// <summary>The joint actor+critic optimiser (state layout [policy θ..., value θ...]).</summary>
    public Adam Optimizer => _adam;

    /// <summary>The minibatch shuffle's generator state (<see cref="Prng.StateLength"/> words), for a checkpoint.</summary>
    public void WriteShuffleState(Span<ulong> state) => _shuffle.WriteState(state);

    /// <summary>Continues the minibatch shuffle from a checkpoint's state; false (nothing changed) when the words are not a generator's.</summary>
    public bool TryRestoreShuffleState(ReadOnlySpan<ulong> state)
    {
        if (Prng.FromState(state) is not Prng restored) return false;
        _shuffle = restored;
        return true;
    }

    /// <summary>
    /// One update. On-policy (<see cref="PpoHyperparameters.ReplayBatches"/> 1) the rollout has the configured shape;
    /// with replay it holds 1..K batches of <see cref="PpoHyperparameters.StepsPerEnvironment"/> steps as its environments.
    /// </summary>
    public UpdateDiagnostics Update(RolloutBuffer rollout, int iteration, int iterations)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        bool replay = _h.ReplayBatches > 1;
        bool centred = _h.ClipsAroundPolicyBeforeUpdate;
        bool shaped = replay
            ? rollout.StepsPerEnvironment == _h.StepsPerEnvironment && rollout.EnvironmentCount <= _h.ReplayBatches
            : rollout.Capacity == _h.BatchSize;
        if (!shaped || rollout.ObservationSize != Agent.ObservationSize || rollout.ActionSize != Agent.ActionSize)
            throw new ArgumentException("rollout does not have the shape PPO was built for", nameof(rollout));
        if (iteration < 1 || iteration > iterations) throw new ArgumentOutOfRangeException(nameof(iteration), iteration, $"must be in 1..{iterations}");

        float lr = _h.AnnealLearningRate ? (float)(1.0 - (iteration - 1.0) / iterations) * _h.LearningRate : _h.LearningRate;
        _adam.LearningRate = lr;

        GaeEstimator.Estimate(rollout, _h.Gamma, _h.GaeLambda);
        float explainedVariance = PpoLoss.ExplainedVariance(rollout.Values, rollout.Returns);

        int batch = rollout.Capacity, obs = Agent.ObservationSize, act = Agent.ActionSize;
        // Minibatches of the configured size: K batches make K times as many steps per epoch.
        int m = _h.MinibatchSize;
        Span<int> indices = _indices.AsSpan(0, batch);
        for (int i = 0; i < batch; i++) indices[i] = i;
        if (centred)
        {
            // θk's log-probs, the clip centre: fixed for the whole update.
            for (int start = 0; start < batch; start += m)
            {
                int count = Math.Min(m, batch - start);
                _policy.LogProbBatch(rollout.Observations.Slice(start * obs, count * obs), rollout.Actions.Slice(start * act, count * act), count,
                    _centreLogProbs.AsSpan(start, count));
            }
        }

        PolicyLossTerms terms = default;
        float valueLoss = 0f, entropy = 0f, clipFractionSum = 0f;
        int minibatchCount = 0, epochs = 0;
        ReadOnlySpan<float> observations = rollout.Observations, actions = rollout.Actions, logProbs = rollout.LogProbs;
        ReadOnlySpan<float> advantages = rollout.Advantages, returns = rollout.Returns, values = rollout.Values;

        for (int epoch = 0; epoch < _h.Epochs; epoch++)
        {
            _shuffle.Shuffle(indices);
            // CleanRL steps start by minibatch size up to the batch size; a remainder is not used.
            for (int start = 0; start + m <= batch; start += m)
            {
                ReadOnlySpan<int> picked = indices.Slice(start, m);
                Minibatch.Gather(picked, observations, obs, _mbObservations);
                Minibatch.Gather(picked, actions, act, _mbActions);
                Minibatch.Gather(picked, logProbs, 1, _mbOldLogProbs);
                Minibatch.Gather(picked, advantages, 1, _mbAdvantages);
                Minibatch.Gather(picked, returns, 1, _mbReturns);
                Minibatch.Gather(picked, values, 1, _mbOldValues);
                if (_h.NormalizeAdvantages) AdvantageStandardization.Standardize(_mbAdvantages);

                _policy.ZeroGradients();
                _value.ZeroGradients();

                _policy.LogProbBatch(_mbObservations, _mbActions, m, _newLogProbs);
                // On-policy the centre is the behaviour policy (c = 1, PPO-clip); with replay or stale data θk.
                if (centred) Minibatch.Gather(picked, _centreLogProbs, 1, _mbCentreLogProbs);
                terms = PpoLoss.PolicyLoss(_newLogProbs, _mbOldLogProbs, centred ? _mbCentreLogProbs : _mbOldLogProbs, _mbAdvantages,
                    _h.ClipCoefficient, _logProbGradients);
                _policy.AccumulateLogProbGradient(_logProbGradients, m);
                entropy = _policy.Entropy();
                // loss − c·H: the entropy term's gradient is −c·∇H.
                if (_h.EntropyCoefficient != 0f) _policy.AccumulateEntropyGradient(-_h.EntropyCoefficient);

                _value.PredictBatch(_mbObservations, m, _newValues);
                valueLoss = PpoLoss.ValueLoss(_newValues, _mbOldValues, _mbReturns, _h.ClipCoefficient, _h.ClipValueLoss,
                    _h.ValueCoefficient, _valueGradients);
                _value.AccumulateGradient(_valueGradients, m);

                GradientClipping.ClipGlobalNorm(_policy.Gradients, _value.Gradients, _h.MaxGradientNorm);
                _adam.Step(_policy.Parameters, _policy.Gradients, _value.Parameters, _value.Gradients);

                clipFractionSum += terms.ClipFraction;
                minibatchCount++;
            }
            epochs++;
            if (_h.TargetKl is float targetKl && terms.ApproxKl > targetKl) break;
        }

        return new UpdateDiagnostics(terms.Loss, valueLoss, entropy, terms.ApproxKl, clipFractionSum / minibatchCount,
            explainedVariance, lr, epochs);
    }
}
