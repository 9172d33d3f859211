using System.Buffers.Binary;
using System.Diagnostics;
using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Learning.Training;
using RobotPG.Numerics;

namespace RobotPG.Controller.Learning;

/// <summary>
/// The learner of DESIGN.md "On-device learning". It drains the loop's rollout ring, turns the records
/// into transitions (the reward and done flag the task reports at step t+1 belong to the action of
/// step t), and when a batch is full runs the algorithm on the agent — the learner's own copy of the
/// parameters. Guards judge the result: NaN/∞ or a mean KL above the bound restores the parameters of
/// before the update; otherwise the parameters are copied into the back <see cref="ControlPolicy"/>
/// and published through the <see cref="PolicyExchange"/>, which the loop picks up at its next step.
/// With an evaluation window, the new policy's episode returns are compared with the old ones and a
/// drop beyond the margin rolls it back too. A policy that passes its evaluation (and the starting
/// policy, judged by its first episodes) is offered to a <see cref="BestPolicyKeeper"/>; an operator
/// can roll the robot back to that best policy (<see cref="RequestRollbackToBest"/>). The two control policies, the snapshots and the rollout
/// are allocated by the constructor; an update allocates nothing (the algorithms promise the same).
/// With learning.replayBatches K &gt; 1 (PPO) each batch is also kept raw, as acted, in a <see cref="BatchReplay"/>
/// and the update trains on the last K of them; the learner's checkpoint holds them (and PPO's minibatch-shuffle
/// generator). Every checkpoint also holds the batch in progress (<see cref="PendingBatch"/>), so a resumed learner
/// goes on filling it: a restart costs no robot time, and the next update is the one it would have made.
/// <see cref="Pump"/> is the synchronous core (tests drive it); <see cref="Start"/> runs it on a
/// below-normal-priority thread so it never competes with the loop.
/// </summary>
public sealed class OnDeviceLearner : IDisposable
{
    private const int ReturnWindow = 10;

    /// <summary>The best policy's checkpoint, next to the learner's latest and previous ones (a policy.checkpoint for a later run).</summary>
    public const string BestCheckpointName = "learner-best.ckpt";

    private readonly IPolicyGradientAlgorithm _algorithm;
    private readonly ActorCritic _agent;
    private readonly TrajectoryRing _ring;
    private readonly LearningOptions _options;
    private readonly LearnerCheckpoints? _checkpoints;
    private readonly ILearningObserver? _observer;
    private readonly RolloutBuffer _rollout;
    private readonly BatchReplay? _replay;
    private readonly RewardScaler? _rewardScaler;
    private readonly RolloutSettings _settings;
    private readonly byte[] _record;
    private readonly float[] _observation, _action, _pendingObservation, _pendingAction, _normalized;
    private readonly float[] _meanOld, _meanNew;
    private readonly GaussianPolicy _previousPolicy;
    private readonly ValueNetwork _previousValue;
    private readonly Adam? _optimizer;
    private readonly Adam? _previousOptimizer;
    private readonly (ControlPolicy Policy, GaussianPolicy Network, RunningMeanStd? Normalizer)[] _buffers;
    private readonly double[] _recentReturns = new double[ReturnWindow];
    private readonly BestPolicyKeeper _best;
    private volatile bool _rollbackToBestRequested;
    private readonly int[] _recentLengths = new int[ReturnWindow];
    private readonly int _obs, _act;
    private PolicyExchange? _exchange;
    private int _spare = 1;
    private int _count;
    private bool _pendingValid;
    private bool _pendingLinked; // the batch's last transition leads to _pendingObservation (its episode goes on)
    private long _pendingStep;
    private float _pendingLogProb;
    private double _episodeReturn;
    private int _episodeLength;
    private long _episodeFirstRecord;
    private long _recordsTaken;
    private long _loopStep, _loopTimeNs; // of the newest record taken: stamps updates on the log's clock
    private long _takenStep = -1; // the loop step of the newest record taken (−1: none yet), for the gate
    private readonly LearnerGate _gate;
    private int _recentCount;
    private long _updates, _accepted, _rollbacks, _steps, _episodes;
    private long _lastCheckpointEpisodes;
    // Return guard: the new policy's episodes (those starting after _evaluationMark) against the old mean.
    private bool _evaluating;
    private long _evaluationMark;
    private double _evaluationBaseline, _evaluationSum;
    private int _evaluationCount;
    private Thread? _thread;
    private volatile bool _stop;
    private volatile bool _updating;
    private volatile bool _learningStopped;
    private int _faults;
    private string? _lastFailure;

    public OnDeviceLearner(IPolicyGradientAlgorithm algorithm, TrajectoryRing ring, LearningOptions options,
        ILearningObserver? observer = null, LearnerCheckpoints? checkpoints = null)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(ring);
        ArgumentNullException.ThrowIfNull(options);
        _algorithm = algorithm;
        _agent = algorithm.Agent;
        _ring = ring;
        _options = options;
        _observer = observer;
        _checkpoints = checkpoints;
        _settings = algorithm.Rollout;
        _obs = _agent.ObservationSize;
        _act = _agent.ActionSize;
        if (ring.ObservationSize != _obs || ring.ActionSize != _act)
            throw new ArgumentException($"the ring holds {ring.ObservationSize} → {ring.ActionSize} transitions, the agent is {_obs} → {_act}", nameof(ring));
        if (_settings.EnvironmentCount != 1)
            throw new ArgumentException($"{algorithm.Name} collects from {_settings.EnvironmentCount} environments; a robot is one", nameof(algorithm));
        _rollout = new RolloutBuffer(_settings.StepsPerEnvironment, 1, _obs, _act);
        // PPO with replay trains on the last K batches as acted (learning.replayBatches); the others on _rollout alone.
        if (algorithm is Ppo { Hyperparameters.ReplayBatches: > 1 and int k })
            _replay = new BatchReplay(k, _settings.StepsPerEnvironment, _obs, _act);
        _rewardScaler = _settings.ScaleRewards ? new RewardScaler(_settings.Gamma) : null;
        _record = new byte[ring.RecordSize];
        _observation = new float[_obs];
        _action = new float[_act];
        _pendingObservation = new float[_obs];
        _pendingAction = new float[_act];
        _normalized = new float[_obs];
        _meanOld = new float[_act];
        _meanNew = new float[_act];
        var policy = _agent.Policy;
        _previousPolicy = new GaussianPolicy(_obs, _act, policy.HiddenSizes, maxBatch: 1, seed: 1);
        _previousValue = new ValueNetwork(_obs, _agent.Value.HiddenSizes, maxBatch: 1, seed: 1);
        _optimizer = algorithm is Ppo ppo ? ppo.Optimizer : null;
        _previousOptimizer = _optimizer is null ? null : new Adam(_optimizer.ParameterCount, _optimizer.LearningRate, _optimizer.Beta1, _optimizer.Beta2, _optimizer.Epsilon);
        _buffers = new (ControlPolicy, GaussianPolicy, RunningMeanStd?)[2];
        for (int i = 0; i < 2; i++)
        {
            var network = new GaussianPolicy(_obs, _act, policy.HiddenSizes, maxBatch: 1, seed: 1);
            var normalizer = _agent.ObservationStatistics is null ? null : new RunningMeanStd(_obs);
            _buffers[i] = (ControlPolicy.FromNetwork(network, normalizer, deterministic: false, $"learner:{algorithm.Name}"), network, normalizer);
        }
        // Before the loop's first policy is copied; LoadPretrained and Resume overwrite it with the checkpoint's own.
        if (options.InitialLogStd is float logStd) _agent.Policy.LogStd.Fill(logStd);
        _best = new BestPolicyKeeper(_agent);
        _gate = new LearnerGate(_settings.StepsPerEnvironment);
        CopyAgentInto(0);
    }

    /// <summary>
    /// Where a lockstep loop waits for this learner (<see cref="ControlLoop.LearnerGate"/>): moved on after each
    /// <see cref="Pump"/>, released when the learner stops. Unused in real time, where the loop never waits.
    /// </summary>
    public LearnerGate Gate => _gate;

    /// <summary>Mean evaluation return of the best policy so far (−∞ before the first evaluation); the policy is <see cref="BestPolicy"/>.</summary>
    public double BestReturn => _best.BestReturn;

    /// <summary>The best policy so far (a copy; read it from the learner thread or after <see cref="Stop"/>).</summary>
    public ActorCritic BestPolicy => _best.Best;

    /// <summary>
    /// Asks the learner thread to put the best policy back on the robot at its next pump: the agent (policy,
    /// critic, normaliser) is restored, published, the batch in progress dropped and the event reported as a rollback.
    /// </summary>
    public void RequestRollbackToBest() => _rollbackToBestRequested = true;

    /// <summary>
    /// The operator's <c>best</c> command (any thread): asks for <see cref="RequestRollbackToBest"/> when there is a best
    /// policy; else says why not (null: asked).
    /// </summary>
    public string? TryRequestRollbackToBest()
    {
        if (_options.EvaluationEpisodes <= 0) return "learning.evaluationEpisodes is 0: the learner keeps no best policy";
        // BestReturn leaves −∞ once, when the first policy passed its evaluation (a double reads whole on 64-bit).
        if (double.IsNegativeInfinity(_best.BestReturn)) return "no policy has passed its evaluation yet (learning.evaluationEpisodes episodes)";
        RequestRollbackToBest();
        return null;
    }

    public IPolicyGradientAlgorithm Algorithm => _algorithm;

    public ActorCritic Agent => _agent;

    /// <summary>The kept batches with learning.replayBatches &gt; 1, else null (read it from the learner thread or after <see cref="Stop"/>).</summary>
    public BatchReplay? Replay => _replay;

    /// <summary>The policy the loop should start with (the agent's parameters at construction or <see cref="Resume"/>).</summary>
    public ControlPolicy InitialPolicy => _buffers[0].Policy;

    public long Updates => Interlocked.Read(ref _updates);

    public long AcceptedUpdates => Interlocked.Read(ref _accepted);

    public long Rollbacks => Interlocked.Read(ref _rollbacks);

    /// <summary>Transitions consumed (including those of the runs a checkpoint continued).</summary>
    public long Steps => Interlocked.Read(ref _steps);

    public long Episodes => Interlocked.Read(ref _episodes);

    /// <summary>Transitions collected toward the next update.</summary>
    public int BatchFill => _count;

    /// <summary>Mean return of the last 10 episodes; NaN before the first.</summary>
    public double MeanReturn => Mean(_recentReturns);

    /// <summary>Mean length (steps) of the last 10 episodes; NaN before the first.</summary>
    public double MeanEpisodeLength
    {
        get
        {
            int n = Math.Min(_recentCount, ReturnWindow);
            if (n == 0) return double.NaN;
            double sum = 0;
            for (int i = 0; i < n; i++) sum += _recentLengths[i];
            return sum / n;
        }
    }

    /// <summary>
    /// Continues from the learner's last good checkpoint (policy, critic, normaliser, reward scaler,
    /// optimiser, counters, replay batches, minibatch shuffle, the batch in progress). Returns the path loaded or null
    /// when there is none. A checkpoint of more replay batches than learning.replayBatches keeps gives its newest (a
    /// warning says so). The batch in progress is kept as collected (each transition with the log-prob of the policy
    /// that acted it, so a batch begun under the previous policy is weighed as it would have been without the restart)
    /// and filled on: the next update comes after the rest of the batch. Its open episode is cut at its last
    /// transition (the restarted loop begins a new episode). A batch of another algorithm, batchSteps or sizes, or a
    /// section that does not parse, gives an empty batch and one warning. A full batch (it waited for the verdict of an
    /// evaluation the restart dropped) updates at the first pump. Call before the loop starts.
    /// </summary>
    public string? Resume()
    {
        if (_checkpoints is null) return null;
        var state = CheckpointState();
        string? path = _checkpoints.TryResume(state, out string? warning);
        if (warning is not null) _observer?.OnWarning(warning);
        if (path is null) return null;
        if (state.ReplayNote is not null) _observer?.OnWarning(state.ReplayNote);
        if (state.MinibatchShuffleLoaded) ((Ppo)_algorithm).TryRestoreShuffleState(state.MinibatchShuffle);
        if (state.PendingNote is not null) _observer?.OnWarning(state.PendingNote);
        ResumeBest();
        // The batch in progress goes on filling. Its episode still open cannot go on: the restarted loop begins a new one.
        _count = state.Pending!.Count;
        _pendingLinked = state.Pending.Open;
        CutOpenTransition();
        _gate.Set(_rollout.Capacity - _count - 1L, false, -1);
        _steps = state.StepCount;
        _episodes = state.EpisodeCount;
        _updates = state.UpdateCount;
        _accepted = state.UpdateCount;
        _lastCheckpointEpisodes = _episodes;
        CopyAgentInto(0);
        return path;
    }

    /// <summary>
    /// The best evaluated policy of the run before the restart, from its file, so a restart does not let the first
    /// policy evaluated afterwards overwrite a better one. A file that cannot be used (another shape, damaged, written
    /// before the return was kept) is left on disk until a policy passes its evaluation; a warning says why.
    /// </summary>
    private void ResumeBest()
    {
        string path = Path.Combine(_checkpoints!.Directory, BestCheckpointName);
        if (!File.Exists(path)) return;
        var best = _best.ToTrainingState("");
        try
        {
            CheckpointFile.Load(path, best);
        }
        catch (CheckpointException e)
        {
            _observer?.OnWarning($"the best policy is not resumed: {e.Message}; the next policy to pass its evaluation replaces it");
            return;
        }
        if (best.EvaluationReturn is not double evaluationReturn)
        {
            _observer?.OnWarning($"the best policy is not resumed: '{path}' does not say its evaluation return (an older file); the next policy to pass its evaluation replaces it");
            return;
        }
        _best.Restored(evaluationReturn, best.StepCount);
    }

    /// <summary>
    /// Starts from a pre-trained checkpoint (the config's policy.checkpoint): its policy, and its critic
    /// and observation statistics when it has them in the agent's shapes. Call before the loop starts.
    /// </summary>
    public void LoadPretrained(string path)
    {
        CheckpointInfo info = CheckpointFile.ReadInfo(path);
        var state = _agent.ToTrainingState("");
        if (info.PolicyObservationSize != _obs || info.PolicyActionSize != _act || info.PolicyHiddenSizes is null
            || !info.PolicyHiddenSizes.AsSpan().SequenceEqual(_agent.Policy.HiddenSizes))
            throw new CheckpointException(path, $"its policy does not have the learner's shape {_obs} → [{string.Join(", ", _agent.Policy.HiddenSizes.ToArray())}] → {_act}");
        if (info.ValueHiddenSizes is null || info.ValueObservationSize != _obs || !info.ValueHiddenSizes.AsSpan().SequenceEqual(_agent.Value.HiddenSizes))
            state.Value = null;
        if (info.ObservationNormalizerSize != _obs) state.ObservationNormalizer = null;
        CheckpointFile.Load(path, state);
        CopyAgentInto(0);
    }

    /// <summary>Connects the exchange the loop reads (built with <see cref="InitialPolicy"/>).</summary>
    public void Attach(PolicyExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (!ReferenceEquals(exchange.Current, _buffers[0].Policy))
            throw new ArgumentException("the exchange must start with the learner's InitialPolicy", nameof(exchange));
        _exchange = exchange;
    }

    /// <summary>Runs <see cref="Pump"/> on a below-normal-priority thread until <see cref="Stop"/>.</summary>
    public void Start()
    {
        _thread = new Thread(RunThread) { IsBackground = true, Name = "robotpg-learner", Priority = ThreadPriority.BelowNormal };
        _thread.Start();
    }

    /// <summary>Stops the thread (after the update in progress), drains nothing more and writes the shutdown checkpoint.</summary>
    public void Stop(TimeSpan timeout)
    {
        _stop = true;
        _gate.Release(); // a loop still running must not wait for a learner that has stopped
        _thread?.Join(timeout);
        SaveCheckpoint();
    }

    public void Dispose() => Stop(TimeSpan.FromSeconds(30));

    /// <summary>Learner faults survived by restarting (an exception outside an update, e.g. in a record or an observer).</summary>
    public const int MaxRestarts = 3;

    /// <summary>Faults of the learner thread so far (exceptions outside an update; those inside are rollbacks).</summary>
    public int Faults => Volatile.Read(ref _faults);

    /// <summary>True once the learner gave up after <see cref="MaxRestarts"/> restarts: the robot keeps running its last good policy, nothing is learned.</summary>
    public bool LearningStopped => _learningStopped;

    /// <summary>The last learner failure (update exception or thread fault), null if none.</summary>
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    private void RunThread()
    {
        while (!_stop)
        {
            try
            {
                if (Pump() == 0)
                    Thread.Sleep(1); // the ring is empty: one loop period or less until the next record
            }
            catch (Exception e)
            {
                // A learner fault must never reach the loop: the robot keeps its current (last published, good) policy.
                int faults = Interlocked.Increment(ref _faults);
                Volatile.Write(ref _lastFailure, $"{e.GetType().Name}: {e.Message}");
                RecoverFromFault();
                if (faults > MaxRestarts)
                {
                    _learningStopped = true;
                    _gate.Release(); // the loop runs on with the last good policy, waiting for nothing
                    _observer?.OnWarning($"learning stopped after {faults} learner faults (last: {e.GetType().Name}: {e.Message}); the robot keeps running the last good policy; restart the controller to learn again");
                    return;
                }
                _observer?.OnWarning($"learner fault {faults} of at most {MaxRestarts} restarts ({e.GetType().Name}: {e.Message}); restarted on the last good policy with a new batch");
            }
        }
    }

    /// <summary>Back to a consistent state after a fault: the last good parameters, an empty batch, no episode in progress.</summary>
    private void RecoverFromFault()
    {
        if (_updating) Restore();
        _updating = false;
        EmptyBatch();
        _pendingValid = false;
        _episodeReturn = 0;
        _episodeLength = 0;
        _evaluating = false;
    }

    /// <summary>Every number a checkpoint would hold is finite (a NaN reward or observation can poison the statistics).</summary>
    private bool AgentFinite()
    {
        if (!AllFinite(_agent.Policy.Parameters) || !AllFinite(_agent.Value.Parameters)) return false;
        if (_replay is not null && !_replay.AllFinite()) return false;
        if (_agent.ObservationStatistics is { } stats)
        {
            foreach (double m in stats.Mean) if (!double.IsFinite(m)) return false;
            foreach (double v in stats.Variance) if (!double.IsFinite(v)) return false;
        }
        return true;
    }

    /// <summary>Takes every record in the ring, updating when a batch fills. Returns the records taken.</summary>
    public int Pump()
    {
        int taken = 0;
        // Read before draining: every step before it is done, so its record (if any) is in the ring now.
        long loopWaitsAt = _gate.LoopWaitingAt;
        if (_rollbackToBestRequested)
        {
            _rollbackToBestRequested = false;
            RollBackToBest();
        }
        // A full batch from a checkpoint (it waited for an evaluation verdict the restart dropped) updates now: no record
        // may come first (in lockstep the loop waits for this update).
        if (_count == _rollout.Capacity && !_evaluating && !_stop) RunUpdate();
        while (!_stop && _ring.TryTake(_record))
        {
            taken++;
            Consume();
        }
        MoveGate(loopWaitsAt);
        return taken;
    }

    /// <summary>
    /// Publishes the last loop step that may run before the batch can be full: the next record is at step
    /// <c>frontier</c> or later, and each in-episode record adds at most one transition. With a full batch waiting
    /// for an evaluation verdict nothing is held but the episode ends (the verdict needs the evaluation's steps).
    /// </summary>
    private void MoveGate(long loopWaitsAt)
    {
        long frontier = Math.Max(_takenStep + 1, loopWaitsAt);
        long last = _evaluating && _count == _rollout.Capacity ? LearnerGate.Open : frontier - 1 + (_rollout.Capacity - _count);
        _gate.Set(last, _evaluating, _takenStep);
    }

    private void Consume()
    {
        var r = (ReadOnlySpan<byte>)_record;
        long step = BinaryPrimitives.ReadInt64LittleEndian(r);
        _loopStep = step;
        _takenStep = step;
        _loopTimeNs = BinaryPrimitives.ReadInt64LittleEndian(r[TrajectoryLogFormat.TimeOffset..]);
        ReadFloats(r[TrajectoryLogFormat.ObservationOffset..], _observation);
        ReadFloats(r[TrajectoryLogFormat.ActionOffset(_obs)..], _action);
        float logProb = BinaryPrimitives.ReadSingleLittleEndian(r[TrajectoryLogFormat.LogProbOffset(_obs, _act)..]);
        float reward = BinaryPrimitives.ReadSingleLittleEndian(r[TrajectoryLogFormat.RewardOffset(_obs, _act)..]);
        var flags = (TransitionFlags)BinaryPrimitives.ReadUInt32LittleEndian(r[TrajectoryLogFormat.FlagsOffset(_obs, _act)..]);
        long index = _recordsTaken++;
        if ((flags & TransitionFlags.Idle) != 0) return;
        bool terminated = (flags & TransitionFlags.Terminated) != 0;
        bool truncated = !terminated && (flags & TransitionFlags.Truncated) != 0;

        // A gap in the steps (records dropped by a full ring) cuts the episode: nothing links across it.
        if (_pendingValid && step != _pendingStep + 1)
        {
            CutOpenTransition();
            _pendingValid = false;
            _episodeReturn = 0;
            _episodeLength = 0;
        }
        if (!_pendingValid && _episodeLength == 0) _episodeFirstRecord = index;

        Interlocked.Increment(ref _steps);
        _agent.ObserveStatistics(_observation);
        _episodeReturn += reward;
        _episodeLength++;

        bool added = false;
        if (_pendingValid)
        {
            float bootstrap = 0f;
            if (truncated)
            {
                _agent.NormalizeObservation(_observation, _normalized);
                bootstrap = _agent.Value.Predict(_normalized);
            }
            added = AddTransition(reward, terminated, truncated, bootstrap);
        }

        if (terminated || truncated)
        {
            _pendingValid = false;
            _pendingLinked = false; // before EndEpisode: its checkpoint must see the episode closed
            EndEpisode();
        }
        else
        {
            _observation.CopyTo(_pendingObservation);
            _action.CopyTo(_pendingAction);
            _pendingLogProb = logProb;
            _pendingStep = step;
            _pendingValid = true;
            _pendingLinked = added;
        }

        if (_count == _rollout.Capacity && !_evaluating)
            RunUpdate();
    }

    private bool AddTransition(float reward, bool terminated, bool truncated, float bootstrap)
    {
        if (_count == _rollout.Capacity) return false; // waiting for an evaluation verdict: the batch is full
        int i = _count;
        Span<float> obs = _rollout.Observation(i);
        _agent.NormalizeObservation(_pendingObservation, obs);
        _pendingAction.CopyTo(_rollout.Action(i));
        float value = _agent.Value.Predict(obs);
        if (_rewardScaler is not null)
            reward = Math.Clamp(_rewardScaler.Scale(reward, terminated), -_settings.RewardClip, _settings.RewardClip);
        _rollout.Record(i, _pendingLogProb, value, reward, terminated, truncated, bootstrap);
        // Raw, for the replay: an old batch is normalised and valued again at each later update.
        _replay?.Record(i, _pendingObservation, _pendingAction, _pendingLogProb, reward, terminated, truncated, _observation);
        _count++;
        return true;
    }

    /// <summary>A new batch begins: nothing in it, so nothing in it leads to the pending observation.</summary>
    private void EmptyBatch()
    {
        _count = 0;
        _pendingLinked = false;
    }

    /// <summary>
    /// The batch's last transition leads to the pending observation, but its episode goes no further (a gap in the
    /// steps; a restart, whose loop begins a new episode): it is cut there as a time limit cuts one — truncated, the
    /// value beyond it bootstrapped from that observation — instead of leaning on the next episode's first value.
    /// </summary>
    private void CutOpenTransition()
    {
        if (!_pendingLinked) return;
        _pendingLinked = false;
        int i = _count - 1;
        _agent.NormalizeObservation(_pendingObservation, _normalized);
        float bootstrap = _agent.Value.Predict(_normalized);
        _rollout.Record(i, _rollout.LogProbs[i], _rollout.Values[i], _rollout.Rewards[i], terminated: false, truncated: true, bootstrap);
        _replay?.Cut(i, _pendingObservation);
    }

    private void EndEpisode()
    {
        long episode = Interlocked.Increment(ref _episodes);
        _recentReturns[_recentCount % ReturnWindow] = _episodeReturn;
        _recentLengths[_recentCount % ReturnWindow] = _episodeLength;
        _recentCount++;
        _observer?.OnEpisode(episode, _episodeReturn, _episodeLength);
        if (_evaluating && _episodeFirstRecord >= _evaluationMark)
        {
            _evaluationSum += _episodeReturn;
            if (++_evaluationCount >= _options.EvaluationEpisodes)
                FinishEvaluation();
        }
        _episodeReturn = 0;
        _episodeLength = 0;
        if (_options.CheckpointEveryEpisodes > 0 && episode - _lastCheckpointEpisodes >= _options.CheckpointEveryEpisodes)
        {
            _lastCheckpointEpisodes = episode;
            SaveCheckpoint();
        }
    }

    private void RunUpdate()
    {
        // The value of the state after the batch bootstraps the unfinished episode.
        if (_pendingValid)
        {
            _agent.NormalizeObservation(_pendingObservation, _normalized);
            _rollout.LastValues[0] = _agent.Value.Predict(_normalized);
        }
        else
        {
            _rollout.LastValues[0] = 0f;
        }

        // The starting policy (pre-trained or resumed) is the first candidate, judged by its own episodes.
        if (!_best.HasBest && _options.EvaluationEpisodes > 0 && _recentCount >= _options.EvaluationEpisodes)
            _best.Offer(_agent, LastReturnsMean(_options.EvaluationEpisodes), Steps);
        _previousPolicy.CopyFrom(_agent.Policy);
        _previousValue.CopyFrom(_agent.Value);
        _previousOptimizer?.CopyFrom(_optimizer!);
        long update = Interlocked.Increment(ref _updates);
        int iteration = (int)Math.Min(update, int.MaxValue);
        long start = Stopwatch.GetTimestamp();
        UpdateDiagnostics d;
        Exception? failure = null;
        _updating = true;
        try
        {
            RolloutBuffer rollout = _rollout;
            if (_replay is not null)
            {
                _replay.Commit(_pendingValid ? _pendingObservation : default);
                rollout = _replay.Assemble(_agent);
            }
            d = _algorithm.Update(rollout, iteration, int.MaxValue);
        }
        catch (Exception e)
        {
            // Any exception, not only arithmetic: the agent may be half-updated, so it is restored below.
            d = default;
            failure = e;
            Volatile.Write(ref _lastFailure, $"update {update} threw {e.GetType().Name}: {e.Message}");
            _observer?.OnWarning($"learner update {update} threw {e.GetType().Name}: {e.Message}; the last good policy is kept");
        }
        bool threw = failure is not null;
        double durationMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        EmptyBatch();

        double kl = threw ? double.NaN : MeanKl();
        RollbackCause? cause = null;
        double bound = double.NaN;
        if (threw || !AllFinite(_agent.Policy.Parameters) || !AllFinite(_agent.Value.Parameters) || !double.IsFinite(kl))
        {
            cause = RollbackCause.NonFinite;
        }
        else if (kl > _options.MaxKl)
        {
            cause = RollbackCause.KlBound;
            bound = _options.MaxKl;
        }

        var report = new LearnerUpdate(update, Steps, Episodes, MeanReturn, MeanEpisodeLength, d.PolicyLoss, d.ValueLoss, d.Entropy,
            d.ApproxKl, d.ClipFraction, d.ExplainedVariance, durationMs, kl, cause is null, _loopStep, _loopTimeNs);
        _observer?.OnUpdate(report);

        if (threw) cause = RollbackCause.Exception;
        if (cause is RollbackCause c)
        {
            Restore();
            _updating = false;
            Roll(c, cause is RollbackCause.NonFinite or RollbackCause.Exception ? double.NaN : kl, bound);
            return;
        }
        _updating = false;

        Interlocked.Increment(ref _accepted);
        Publish();
        if (_options.EvaluationEpisodes > 0 && _recentCount >= _options.EvaluationEpisodes)
        {
            _evaluationBaseline = LastReturnsMean(_options.EvaluationEpisodes);
            _evaluationSum = 0;
            _evaluationCount = 0;
            // Records already in the ring were collected before the loop could take the new policy.
            _evaluationMark = _recordsTaken + _ring.Count;
            _evaluating = true;
        }
        if (_options.CheckpointEveryUpdates > 0 && _accepted % _options.CheckpointEveryUpdates == 0)
            SaveCheckpoint();
    }

    private void FinishEvaluation()
    {
        _evaluating = false;
        double mean = _evaluationSum / _evaluationCount;
        double floor = _evaluationBaseline - _options.ReturnDropMargin * Math.Max(Math.Abs(_evaluationBaseline), 1.0);
        if (mean >= floor)
        {
            // No update runs while a policy is evaluated, so the agent still holds the policy these episodes judged.
            _best.Offer(_agent, mean, Steps);
            return;
        }
        Restore();
        Publish();
        // The batch in progress was collected by the rejected policy.
        EmptyBatch();
        Roll(RollbackCause.ReturnDrop, mean, floor);
    }

    private void RollBackToBest()
    {
        if (!_best.RestoreInto(_agent)) return;
        Publish();
        EmptyBatch();
        _evaluating = false;
        Roll(RollbackCause.ToBest, _best.BestReturn, double.NaN);
    }

    private void Roll(RollbackCause cause, double value, double bound)
    {
        Interlocked.Increment(ref _rollbacks);
        var rollback = new LearnerRollback(Updates, Steps, cause, value, bound, _loopStep, _loopTimeNs);
        _observer?.OnRollback(rollback);
    }

    private void Restore()
    {
        _agent.Policy.CopyFrom(_previousPolicy);
        _agent.Value.CopyFrom(_previousValue);
        if (_previousOptimizer is not null) _optimizer!.CopyFrom(_previousOptimizer);
    }

    /// <summary>Copies the agent into the spare control policy and offers it to the loop.</summary>
    private void Publish()
    {
        if (_exchange is null)
        {
            // Not attached (tests, pre-start): the initial policy follows the agent.
            CopyAgentInto(0);
            return;
        }
        var released = _exchange.TakeReleased();
        if (released is not null) _spare = IndexOf(released);
        if (_spare < 0) return; // the loop has not taken the last one yet; this one goes out with the next update
        int target = _spare;
        CopyAgentInto(target);
        var notTaken = _exchange.Publish(_buffers[target].Policy);
        _spare = notTaken is null ? -1 : IndexOf(notTaken);
    }

    private int IndexOf(ControlPolicy policy) => ReferenceEquals(policy, _buffers[0].Policy) ? 0 : 1;

    private void CopyAgentInto(int index)
    {
        var (_, network, normalizer) = _buffers[index];
        network.CopyFrom(_agent.Policy);
        if (normalizer is not null && _agent.ObservationStatistics is { } stats) normalizer.CopyFrom(stats);
    }

    /// <summary>Exact mean KL(old ‖ new) of the diagonal Gaussians over the batch's observations.</summary>
    private double MeanKl()
    {
        ReadOnlySpan<float> oldLogStd = _previousPolicy.LogStd, newLogStd = _agent.Policy.LogStd;
        int n = _rollout.Capacity;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> o = _rollout.Observation(i);
            _previousPolicy.Mean(o, _meanOld);
            _agent.Policy.Mean(o, _meanNew);
            sum += DiagonalGaussian.Kl(_meanOld, oldLogStd, _meanNew, newLogStd);
        }
        return sum / n;
    }

    private TrainingState CheckpointState()
    {
        var state = _agent.ToTrainingState("on-device learner");
        state.RewardScaler = _rewardScaler;
        state.Optimizer = _optimizer;
        state.Replay = _replay;
        if (_algorithm is Ppo ppo)
        {
            state.MinibatchShuffle = new ulong[Prng.StateLength];
            ppo.WriteShuffleState(state.MinibatchShuffle);
        }
        state.Pending = new PendingBatch(_algorithm.Name, _rollout, _replay, _pendingObservation) { Count = _count, Open = _pendingLinked };
        state.StepCount = Steps;
        state.EpisodeCount = Episodes;
        state.UpdateCount = AcceptedUpdates;
        return state;
    }

    /// <summary>Writes a checkpoint now (learner thread, or after <see cref="Stop"/>); a failure is a warning, never a crash.</summary>
    public void SaveCheckpoint()
    {
        if (_checkpoints is null) return;
        if (_updating || !AgentFinite())
        {
            // Never overwrite the last good checkpoint with a half-updated or poisoned agent.
            _observer?.OnWarning(_updating
                ? "checkpoint not written: the learner is inside an update (the last good checkpoint is kept)"
                : "checkpoint not written: the agent holds NaN/∞ (the last good checkpoint is kept)");
            return;
        }
        try
        {
            _checkpoints.Save(CheckpointState());
            if (_best.HasBest)
            {
                TrainingState best = _best.ToTrainingState("on-device learner, best evaluated policy");
                best.StepCount = _best.BestSteps;
                CheckpointFile.Save(Path.Combine(_checkpoints.Directory, BestCheckpointName), best);
            }
        }
        catch (CheckpointException e)
        {
            _observer?.OnWarning("checkpoint not written: " + e.Message);
        }
    }

    private double LastReturnsMean(int count)
    {
        double sum = 0;
        for (int k = 1; k <= count; k++) sum += _recentReturns[(_recentCount - k) % ReturnWindow];
        return sum / count;
    }

    private double Mean(double[] values)
    {
        int n = Math.Min(_recentCount, ReturnWindow);
        if (n == 0) return double.NaN;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += values[i];
        return sum / n;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (!float.IsFinite(v)) return false;
        return true;
    }

    private static void ReadFloats(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++)
            destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
    }
}
