using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;
using Ppo = RobotPG.Learning.Algorithms.Ppo;

namespace RobotPG.Learning.Checkpoints;

/// <summary>
/// What one checkpoint holds: references to the live objects (any may be null = not saved / not
/// loaded) plus counters and a free-text tag (robot or environment name). <see cref="CheckpointFile"/>
/// writes it from, and loads it into, these objects.
/// </summary>
public sealed class TrainingState
{
    public GaussianPolicy? Policy { get; set; }
    public ValueNetwork? Value { get; set; }
    public RunningMeanStd? ObservationNormalizer { get; set; }
    public RewardScaler? RewardScaler { get; set; }

    /// <summary>The main optimiser (the policy's, or a joint actor+critic one).</summary>
    public Adam? Optimizer { get; set; }

    /// <summary>A separate critic optimiser when there is one.</summary>
    public Adam? ValueOptimizer { get; set; }

    /// <summary>
    /// The replay of the last K batches (PPO with replay): saved when it holds batches, loaded when the file has them
    /// (a file without them, or an older one, leaves it as it is). Of more batches than it keeps, the newest are loaded.
    /// </summary>
    public BatchReplay? Replay { get; set; }

    /// <summary>Set by a load that restored fewer replay batches than the file holds: what was kept and why (a warning line).</summary>
    public string? ReplayNote { get; set; }

    /// <summary>
    /// The update's minibatch-shuffle generator (<see cref="Prng.StateLength"/> words, <see cref="Ppo.WriteShuffleState"/>):
    /// saved when set; loaded into it when the file has it, which sets <see cref="MinibatchShuffleLoaded"/>.
    /// </summary>
    public ulong[]? MinibatchShuffle { get; set; }

    public bool MinibatchShuffleLoaded { get; set; }

    /// <summary>
    /// The batch in progress (<see cref="PendingBatch"/>): saved when it holds transitions; loaded when the file has one
    /// of the same algorithm, batch steps and sizes, else left empty with <see cref="PendingNote"/> saying why.
    /// </summary>
    public PendingBatch? Pending { get; set; }

    /// <summary>Set by a load that found a pending batch it could not use: file, section and reason (a warning line).</summary>
    public string? PendingNote { get; set; }

    /// <summary>
    /// A best-policy checkpoint's evaluation return: the mean return that made it the best (null: not one, or written
    /// before this was kept). A restarted learner needs it to keep comparing against that policy.
    /// </summary>
    public double? EvaluationReturn { get; set; }

    public string Tag { get; set; } = "";
    public long StepCount { get; set; }
    public long EpisodeCount { get; set; }
    public long UpdateCount { get; set; }
}
