using RobotPG.Learning.Checkpoints;

namespace RobotPG.Controller.Learning;

/// <summary>
/// The learner's last two checkpoints in one directory: <c>learner-latest.ckpt</c> and
/// <c>learner-previous.ckpt</c>. A save first moves latest to previous, then writes latest atomically
/// (<see cref="CheckpointFile.Save"/>: temp file + rename), so a crash at any moment leaves at least one
/// whole checkpoint. <see cref="TryResume"/> loads latest, and when that one is corrupt or missing,
/// the previous one — with a warning saying why.
/// </summary>
public sealed class LearnerCheckpoints
{
    public const string LatestName = "learner-latest.ckpt";
    public const string PreviousName = "learner-previous.ckpt";

    public LearnerCheckpoints(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = directory;
        LatestPath = Path.Combine(directory, LatestName);
        PreviousPath = Path.Combine(directory, PreviousName);
    }

    public string Directory { get; }

    public string LatestPath { get; }

    public string PreviousPath { get; }

    /// <summary>Writes <paramref name="state"/> as the new latest, keeping the old latest as previous. Throws <see cref="CheckpointException"/>.</summary>
    public void Save(TrainingState state)
    {
        System.IO.Directory.CreateDirectory(Directory);
        try
        {
            if (File.Exists(LatestPath))
                File.Move(LatestPath, PreviousPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(LatestPath, "cannot be kept as the previous checkpoint: " + e.Message, e);
        }
        CheckpointFile.Save(LatestPath, state);
    }

    /// <summary>
    /// Loads the newest whole checkpoint into <paramref name="state"/>. Returns the path loaded, or
    /// null when neither exists; <paramref name="warning"/> says why latest was skipped. Throws
    /// <see cref="CheckpointException"/> when both exist and neither loads.
    /// </summary>
    public string? TryResume(TrainingState state, out string? warning)
    {
        warning = null;
        bool latest = File.Exists(LatestPath), previous = File.Exists(PreviousPath);
        if (!latest && !previous)
            return null;
        if (latest)
        {
            try
            {
                CheckpointFile.Load(LatestPath, state);
                return LatestPath;
            }
            catch (CheckpointException e)
            {
                if (!previous)
                    throw;
                warning = $"checkpoint {LatestPath} is unusable ({e.Message}); resuming from the previous one, {PreviousPath}";
            }
        }
        else
        {
            warning = $"checkpoint {LatestPath} is missing; resuming from the previous one, {PreviousPath}";
        }
        CheckpointFile.Load(PreviousPath, state);
        return PreviousPath;
    }
}
