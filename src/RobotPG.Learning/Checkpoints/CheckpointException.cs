namespace RobotPG.Learning.Checkpoints;

/// <summary>A checkpoint file that cannot be used: the message names the file and the reason.</summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string path, string reason, Exception? inner = null)
        : base($"checkpoint '{path}': {reason}", inner)
    {
        FilePath = path;
        Reason = reason;
    }

    public string FilePath { get; }
    public string Reason { get; }
}
