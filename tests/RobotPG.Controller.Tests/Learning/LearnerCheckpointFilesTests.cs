using RobotPG.Controller.Learning;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>The learner's two checkpoint files: which one a save keeps, which one a resume loads, and what each failure says.</summary>
public sealed class LearnerCheckpointFilesTests
{
    private static TrainingState State(long steps)
    {
        var policy = new GaussianPolicy(3, 1, [4], maxBatch: 1, seed: 7);
        policy.Parameters[0] = steps; // a value each saved state carries
        return new TrainingState { Policy = policy, StepCount = steps };
    }

    private static (long Steps, float First) Load(LearnerCheckpoints files, out string? loaded, out string? warning)
    {
        var into = new TrainingState { Policy = new GaussianPolicy(3, 1, [4], maxBatch: 1, seed: 1) };
        loaded = files.TryResume(into, out warning);
        return (into.StepCount, into.Policy!.Parameters[0]);
    }

    [Fact]
    public void Every_save_keeps_the_one_before_as_previous_even_when_a_previous_exists()
    {
        using var dir = new TempDirectory();
        var files = new LearnerCheckpoints(dir.Path);
        files.Save(State(100));
        files.Save(State(200));
        files.Save(State(300)); // replaces an existing previous
        Assert.Equal(300, CheckpointFile.ReadInfo(files.LatestPath).StepCount);
        Assert.Equal(200, CheckpointFile.ReadInfo(files.PreviousPath).StepCount);
        Assert.Equal((300L, 300f), Load(files, out string? loaded, out string? warning));
        Assert.Equal(files.LatestPath, loaded);
        Assert.Null(warning);
    }

    [Fact]
    public void Without_a_latest_the_previous_is_loaded_with_a_warning_and_with_neither_nothing_is()
    {
        using var dir = new TempDirectory();
        var files = new LearnerCheckpoints(dir.Path);
        Assert.Equal(0L, Load(files, out string? none, out string? quiet).Steps);
        Assert.Null(none);
        Assert.Null(quiet);

        files.Save(State(100));
        files.Save(State(200));
        File.Delete(files.LatestPath);
        Assert.Equal((100L, 100f), Load(files, out string? loaded, out string? warning));
        Assert.Equal(files.PreviousPath, loaded);
        Assert.Equal($"checkpoint {files.LatestPath} is missing; resuming from the previous one, {files.PreviousPath}", warning);
    }

    [Fact]
    public void A_latest_alone_is_loaded_and_a_corrupt_latest_alone_is_an_error_naming_it()
    {
        using var dir = new TempDirectory();
        var files = new LearnerCheckpoints(dir.Path);
        files.Save(State(100));
        Assert.False(File.Exists(files.PreviousPath));
        Assert.Equal((100L, 100f), Load(files, out string? loaded, out string? warning));
        Assert.Equal(files.LatestPath, loaded);
        Assert.Null(warning);

        byte[] bytes = File.ReadAllBytes(files.LatestPath);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(files.LatestPath, bytes);
        var e = Assert.Throws<CheckpointException>(() => Load(files, out _, out _));
        Assert.Contains(files.LatestPath, e.Message);
    }

    [Fact]
    public void A_previous_that_cannot_be_replaced_fails_the_save_naming_the_latest_and_keeps_it()
    {
        using var dir = new TempDirectory();
        var files = new LearnerCheckpoints(dir.Path);
        files.Save(State(100));
        Directory.CreateDirectory(files.PreviousPath); // a directory where the previous checkpoint goes
        var e = Assert.Throws<CheckpointException>(() => files.Save(State(200)));
        Assert.Contains(files.LatestPath, e.Message);
        Assert.Contains("cannot be kept as the previous checkpoint: ", e.Message);
        Assert.Equal(100, CheckpointFile.ReadInfo(files.LatestPath).StepCount); // nothing lost
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void A_blank_directory_is_refused(string directory)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new LearnerCheckpoints(directory));
        Assert.Equal("directory", e.ParamName);
    }
}
