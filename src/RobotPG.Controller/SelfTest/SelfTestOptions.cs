namespace RobotPG.Controller.SelfTest;

/// <summary>What <see cref="SelfTestSuite"/> runs, and how long.</summary>
public sealed record SelfTestOptions
{
    /// <summary>The algorithms the robot's learner offers, each given one update.</summary>
    public static IReadOnlyList<string> OnDeviceAlgorithms => Learning.OnDeviceAlgorithms.Names;

    /// <summary>Policy forwards timed (after as many for warm-up, capped at 1000).</summary>
    public int Forwards { get; init; } = 10_000;

    public IReadOnlyList<string> Algorithms { get; init; } = OnDeviceAlgorithms;

    /// <summary>Records written in the log round trip.</summary>
    public int LogRecords { get; init; } = 1000;

    /// <summary>Seed of the synthetic batches and network initialisation: the selftest is deterministic but for its timings.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Where the log round trip writes (a fresh subfolder, removed afterwards).</summary>
    public string TemporaryDirectory { get; init; } = Path.GetTempPath();

    /// <summary>One line naming the first setting that cannot work, or null.</summary>
    public string? Validate()
    {
        if (Forwards is < 1 or > 100_000_000) return $"--forwards must be in 1..100000000 (got {Forwards})";
        if (LogRecords is < 2 or > 10_000_000) return $"--log-records must be in 2..10000000 (got {LogRecords})";
        if (Algorithms.Count == 0) return "at least one algorithm must be named";
        // Checked before anything runs: a misspelt name should not cost the whole suite's time first.
        foreach (string name in Algorithms)
        {
            if (!OnDeviceAlgorithms.Contains(name))
                return $"--algorithm: unknown algorithm '{name}' (known: {string.Join(", ", OnDeviceAlgorithms)})";
        }
        return null;
    }
}
