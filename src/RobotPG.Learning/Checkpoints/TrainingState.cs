using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Optimization;

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

    public string Tag { get; set; } = "";
    public long StepCount { get; set; }
    public long EpisodeCount { get; set; }
    public long UpdateCount { get; set; }
}
