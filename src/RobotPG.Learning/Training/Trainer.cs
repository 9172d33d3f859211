using System.Diagnostics;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;

namespace RobotPG.Learning.Training;

/// <summary>
/// The collect → update loop over in-process environments, as CleanRL runs its vectorised
/// environments: N copies stepped in turn, each reset with seed + index on the first reset and
/// auto-reset on the step that ends an episode. Observations are normalised by the agent's running
/// statistics (updated with every raw observation, one shared set so the checkpoint holds one);
/// rewards are scaled per environment by the std of its discounted return and clipped. The rollout
/// stores the policy's unclipped action; truncated steps store V(final observation) for the bootstrap.
/// Episode returns are the raw, unscaled rewards. Nothing is allocated per step or per iteration.
/// </summary>
public sealed class Trainer
{
    private const int ReturnWindow = 10;

    private readonly IPolicyGradientAlgorithm _algorithm;
    private readonly IEnvironment[] _environments;
    private readonly ActorCritic _agent;
    private readonly RolloutSettings _settings;
    private readonly RolloutBuffer _rollout;
    private readonly RewardScaler[] _rewardScalers;
    private readonly float[][] _normalized;   // current normalised observation per environment
    private readonly float[] _raw;
    private readonly double[] _episodeReturns;
    private readonly double[] _recentReturns = new double[ReturnWindow];
    private readonly Stopwatch _clock = new();
    private Prng _prng;
    private int _recentCount;
    private bool _started;

    public Trainer(IPolicyGradientAlgorithm algorithm, IReadOnlyList<IEnvironment> environments, long totalSteps, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(environments);
        _algorithm = algorithm;
        _agent = algorithm.Agent;
        _settings = algorithm.Rollout;
        if (environments.Count != _settings.EnvironmentCount)
            throw new ArgumentException($"{algorithm.Name} collects from {_settings.EnvironmentCount} environments, {environments.Count} given", nameof(environments));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        _environments = [.. environments];
        foreach (IEnvironment env in _environments)
            if (env.ObservationSize != _agent.ObservationSize || env.ActionSize != _agent.ActionSize)
                throw new ArgumentException("an environment's sizes differ from the agent's", nameof(environments));

        Seed = seed;
        // CleanRL: num_iterations = total_timesteps // batch_size (at least one here).
        Iterations = (int)Math.Max(1, totalSteps / _settings.BatchSize);
        TotalSteps = (long)Iterations * _settings.BatchSize;
        _rollout = new RolloutBuffer(_settings.StepsPerEnvironment, _settings.EnvironmentCount, _agent.ObservationSize, _agent.ActionSize);
        _rewardScalers = new RewardScaler[_environments.Length];
        _normalized = new float[_environments.Length][];
        for (int e = 0; e < _environments.Length; e++)
        {
            _rewardScalers[e] = new RewardScaler(_settings.Gamma);
            _normalized[e] = new float[_agent.ObservationSize];
        }
        _raw = new float[_agent.ObservationSize];
        _episodeReturns = new double[_environments.Length];
        _prng = new Prng(seed ^ 0xAC7_10A5UL);
    }

    public IPolicyGradientAlgorithm Algorithm => _algorithm;
    public ActorCritic Agent => _agent;
    public ulong Seed { get; }
    public int Iterations { get; }
    public long TotalSteps { get; }
    public int Iteration { get; private set; }
    public long Steps { get; private set; }
    public int Episodes { get; private set; }
    public bool Finished => Iteration >= Iterations;
    public RolloutBuffer Rollout => _rollout;

    /// <summary>Mean raw return of the last 10 finished episodes; NaN before the first.</summary>
    public double MeanReturn
    {
        get
        {
            int n = Math.Min(_recentCount, ReturnWindow);
            if (n == 0) return double.NaN;
            double sum = 0;
            for (int i = 0; i < n; i++) sum += _recentReturns[i];
            return sum / n;
        }
    }

    /// <summary>Collects one rollout and runs one update.</summary>
    public TrainingProgress RunIteration()
    {
        if (Finished) throw new InvalidOperationException("the run has taken all its iterations");
        if (!_started) Start();
        _clock.Start();
        Collect();
        long updateStart = Stopwatch.GetTimestamp();
        Iteration++;
        UpdateDiagnostics diagnostics = _algorithm.Update(_rollout, Iteration, Iterations);
        double updateMs = Stopwatch.GetElapsedTime(updateStart).TotalMilliseconds;
        _clock.Stop();
        return new TrainingProgress(Steps, TotalSteps, Episodes, Iteration, Iterations, MeanReturn, diagnostics, updateMs,
            Steps / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9));
    }

    private void Start()
    {
        for (int e = 0; e < _environments.Length; e++)
        {
            _environments[e].Reset(_raw, Seed + (ulong)e);
            Observe(e);
        }
        _started = true;
    }

    private void Observe(int environment)
    {
        _agent.ObserveStatistics(_raw);
        _agent.NormalizeObservation(_raw, _normalized[environment]);
    }

    private void Collect()
    {
        int envs = _environments.Length;
        for (int t = 0; t < _settings.StepsPerEnvironment; t++)
        {
            for (int e = 0; e < envs; e++)
            {
                int i = t * envs + e;
                Span<float> obs = _rollout.Observation(i);
                Span<float> action = _rollout.Action(i);
                _normalized[e].CopyTo(obs);
                float value = _agent.Value.Predict(obs);
                float logProb = _agent.Policy.Sample(obs, action, ref _prng);

                StepResult r = _environments[e].Step(action, _raw);
                _episodeReturns[e] += r.Reward;
                float reward = r.Reward;
                if (_settings.ScaleRewards)
                    reward = Math.Clamp(_rewardScalers[e].Scale(r.Reward, r.Terminated), -_settings.RewardClip, _settings.RewardClip);

                Observe(e);
                float bootstrap = 0f;
                if (r.Truncated && !r.Terminated) bootstrap = _agent.Value.Predict(_normalized[e]);
                _rollout.Record(i, logProb, value, reward, r.Terminated, r.Truncated, bootstrap);

                if (r.Done)
                {
                    _recentReturns[_recentCount % ReturnWindow] = _episodeReturns[e];
                    _recentCount++;
                    Episodes++;
                    _episodeReturns[e] = 0;
                    _environments[e].Reset(_raw);
                    Observe(e);
                }
            }
            Steps += envs;
        }
        for (int e = 0; e < envs; e++) _rollout.LastValues[e] = _agent.Value.Predict(_normalized[e]);
    }
}
