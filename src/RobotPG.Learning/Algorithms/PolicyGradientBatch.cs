using RobotPG.Learning.Rollouts;

namespace RobotPG.Learning.Algorithms;

/// <summary>
/// A rollout laid out trajectory by trajectory, as the note estimators read it: the trainer's
/// step-major buffer (index = step · environments + environment) is copied environment by
/// environment, so each trajectory is a contiguous run ending where <see cref="TrajectoryEnds"/> is
/// true (termination, truncation, or the end of the rollout). <see cref="Bootstrap"/> holds, on each
/// run's last step, the value the return continues with: 0 after termination, V(final observation)
/// after truncation, V(next observation) where the rollout cut an episode. Buffers sized once.
/// </summary>
public sealed class PolicyGradientBatch
{
    public PolicyGradientBatch(int capacity, int observationSize, int actionSize)
    {
        Capacity = capacity;
        ObservationSize = observationSize;
        ActionSize = actionSize;
        Observations = new float[capacity * observationSize];
        Actions = new float[capacity * actionSize];
        LogProbs = new float[capacity];
        Rewards = new float[capacity];
        Values = new float[capacity];
        Advantages = new float[capacity];
        Returns = new float[capacity];
        Bootstrap = new float[capacity];
        TrajectoryEnds = new bool[capacity];
        EpisodeSteps = new int[capacity];
    }

    public int Capacity { get; }
    public int ObservationSize { get; }
    public int ActionSize { get; }
    public float[] Observations { get; }
    public float[] Actions { get; }
    public float[] LogProbs { get; }
    public float[] Rewards { get; }
    public float[] Values { get; }

    /// <summary>The rollout's advantages and returns as the estimator left them (<see cref="Advantages.GaeEstimator"/> runs on the rollout before <see cref="Load"/>).</summary>
    public float[] Advantages { get; }
    public float[] Returns { get; }
    public float[] Bootstrap { get; }
    public bool[] TrajectoryEnds { get; }

    /// <summary>
    /// Each step's index within its episode (note 002's k − 1, note 001's t), counted from the episode's
    /// first step: an episode cut by one rollout's end continues in the next rollout of the same
    /// environment, so consecutive <see cref="Load"/> calls must receive consecutive rollouts.
    /// </summary>
    public int[] EpisodeSteps { get; }

    // Per environment: the episode step the next rollout starts at (0 after an episode ended).
    private int[] _nextEpisodeStep = [];

    /// <summary>Trajectories (runs) in the batch.</summary>
    public int TrajectoryCount { get; private set; }

    public void Load(RolloutBuffer rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        if (rollout.Capacity != Capacity || rollout.ObservationSize != ObservationSize || rollout.ActionSize != ActionSize)
            throw new ArgumentException($"rollout of {rollout.Capacity} steps does not fit a batch of {Capacity}", nameof(rollout));
        int envs = rollout.EnvironmentCount, steps = rollout.StepsPerEnvironment, o = ObservationSize, a = ActionSize;
        if (_nextEpisodeStep.Length != envs) _nextEpisodeStep = new int[envs]; // first load only
        int k = 0, trajectories = 0;
        for (int e = 0; e < envs; e++)
        {
            int episodeStep = _nextEpisodeStep[e];
            for (int t = 0; t < steps; t++, k++)
            {
                int i = t * envs + e;
                rollout.Observation(i).CopyTo(Observations.AsSpan(k * o, o));
                rollout.Action(i).CopyTo(Actions.AsSpan(k * a, a));
                LogProbs[k] = rollout.LogProbs[i];
                Rewards[k] = rollout.Rewards[i];
                Values[k] = rollout.Values[i];
                Advantages[k] = rollout.Advantages[i];
                Returns[k] = rollout.Returns[i];
                bool terminated = rollout.Terminated[i], truncated = rollout.Truncated[i], last = t == steps - 1;
                TrajectoryEnds[k] = terminated || truncated || last;
                Bootstrap[k] = terminated ? 0f
                    : truncated ? rollout.BootstrapValues[i]
                    : last ? rollout.LastValues[e]
                    : 0f;
                if (TrajectoryEnds[k]) trajectories++;
                EpisodeSteps[k] = episodeStep;
                episodeStep = terminated || truncated ? 0 : episodeStep + 1;
            }
            _nextEpisodeStep[e] = episodeStep;
        }
        TrajectoryCount = trajectories;
    }

    /// <summary>
    /// rewards' = rewards with γ·bootstrap added on each run's last step, so that a reward-to-go over
    /// rewards' is the bootstrapped return (with <paramref name="useBootstrap"/> false, rewards as they are).
    /// </summary>
    public void BootstrappedRewards(double gamma, bool useBootstrap, Span<float> result)
    {
        for (int k = 0; k < Capacity; k++)
            result[k] = useBootstrap && TrajectoryEnds[k] ? (float)(Rewards[k] + gamma * Bootstrap[k]) : Rewards[k];
    }

    /// <summary>TD targets r + γ V_φᵢ(s′) of fitted V iteration (note 001), V_φᵢ the critic that collected the rollout.</summary>
    public void TemporalDifferenceTargets(double gamma, Span<float> targets)
    {
        for (int k = 0; k < Capacity; k++)
        {
            double next = TrajectoryEnds[k] ? Bootstrap[k] : Values[k + 1];
            targets[k] = (float)(Rewards[k] + gamma * next);
        }
    }
}
