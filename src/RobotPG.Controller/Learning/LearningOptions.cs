using RobotPG.Learning.Algorithms;

namespace RobotPG.Controller.Learning;

/// <summary>
/// How the robot learns while it runs (DESIGN.md "On-device learning"): the algorithm, the batch the
/// learner waits for, the guards that reject an update and the checkpoint schedule.
/// </summary>
public sealed record LearningOptions
{
    /// <summary>"ppo", "ppo-kl", "npg", "trpo", "a2c", "vpg", "reinforce" or "off".</summary>
    public string Algorithm { get; init; } = "ppo";

    /// <summary>Transitions per update (one rollout of one robot).</summary>
    public int BatchSteps { get; init; } = 1024;

    /// <summary>Overrides the algorithm's policy learning rate (null: the preset's).</summary>
    public float? LearningRate { get; init; }

    /// <summary>
    /// Batches each update trains on: the current one and the K − 1 before it, each transition weighted by its
    /// behaviour policy's log-prob (1: on-policy; PPO only; at most 8).
    /// </summary>
    public int ReplayBatches { get; init; } = 1;

    /// <summary>Log std of the action noise a fresh policy starts with (null: the network's own, 0); a loaded or resumed policy keeps its own.</summary>
    public float? InitialLogStd { get; init; }

    /// <summary>Critic layers (the policy's come from the config's policy.hiddenSizes).</summary>
    public int[] ValueHiddenSizes { get; init; } = [64, 64];

    /// <summary>Guard: an update whose mean KL(old ‖ new) over its batch exceeds this is rolled back.</summary>
    public double MaxKl { get; init; } = 0.1;

    /// <summary>Guard: episodes run with a new policy before its return is compared (0 turns the guard off).</summary>
    public int EvaluationEpisodes { get; init; }

    /// <summary>Guard: roll back when the new policy's mean return falls below the old one by more than this fraction of |old| (at least 1).</summary>
    public double ReturnDropMargin { get; init; } = 0.5;

    /// <summary>Where the learner keeps its last two checkpoints (null: no checkpoints).</summary>
    public string? CheckpointDirectory { get; init; }

    /// <summary>A checkpoint after every this many accepted updates (0: never on this rule).</summary>
    public int CheckpointEveryUpdates { get; init; } = 10;

    /// <summary>A checkpoint after every this many finished episodes (0: never on this rule).</summary>
    public int CheckpointEveryEpisodes { get; init; } = 50;

    /// <summary>Seeds network initialisation and minibatch order.</summary>
    public ulong Seed { get; init; } = 1;

    public bool Enabled => Algorithm != "off";

    /// <summary>The first problem with these settings, or null.</summary>
    public string? Validate()
    {
        if (Algorithm != "off" && !OnDeviceAlgorithms.Names.Contains(Algorithm))
            return $"learning.algorithm '{Algorithm}' is unknown (one of: off, {string.Join(", ", OnDeviceAlgorithms.Names)})";
        if (BatchSteps < 64) return $"learning.batchSteps {BatchSteps} must be at least 64";
        if (ReplayBatches is < 1 or > PpoHyperparameters.MaxReplayBatches)
            return $"learning.replayBatches {ReplayBatches} must be in 1..{PpoHyperparameters.MaxReplayBatches}";
        if (ReplayBatches > 1 && Algorithm is not ("ppo" or "off"))
            return $"learning.replayBatches {ReplayBatches} needs learning.algorithm ppo ('{Algorithm}' learns from the current batch only)";
        if (!(MaxKl > 0)) return $"learning.maxKl {MaxKl} must be positive";
        if (EvaluationEpisodes is < 0 or > 10) return $"learning.evaluationEpisodes {EvaluationEpisodes} must be in 0..10 (the learner keeps the last 10 returns)";
        if (!(ReturnDropMargin >= 0)) return $"learning.returnDropMargin {ReturnDropMargin} must be ≥ 0";
        if (CheckpointEveryUpdates < 0 || CheckpointEveryEpisodes < 0) return "learning checkpoint intervals must be ≥ 0";
        if (LearningRate is float lr && !(lr > 0 && float.IsFinite(lr))) return $"learning.learningRate {lr} must be a positive number";
        if (InitialLogStd is float ls && !(ls is >= -5 and <= 1)) return $"learning.initialLogStd {ls} must be in [-5, 1]";
        return null;
    }
}
