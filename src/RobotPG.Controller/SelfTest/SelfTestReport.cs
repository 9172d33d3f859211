namespace RobotPG.Controller.SelfTest;

/// <summary>One check of <c>robotpg selftest</c>: its name, whether it passed, and its figure or its failure.</summary>
/// <param name="Name">What was checked ("policy forward", "update trpo", ...).</param>
/// <param name="Passed">True when every assertion of the check held.</param>
/// <param name="Detail">The figures when passed; what failed and why otherwise.</param>
/// <param name="Figure">The check's headline number (µs per forward, ms per update, ...); NaN when it failed before measuring.</param>
public sealed record SelfTestCheck(string Name, bool Passed, string Detail, double Figure);

/// <summary>Everything a selftest found, in the order the checks ran.</summary>
public sealed class SelfTestReport
{
    private readonly List<SelfTestCheck> _checks = [];

    public IReadOnlyList<SelfTestCheck> Checks => _checks;

    public bool Passed => _checks.Count > 0 && _checks.TrueForAll(c => c.Passed);

    public int FailedCount => _checks.Count - _checks.FindAll(c => c.Passed).Count;

    /// <summary>The first check that failed, or null.</summary>
    public SelfTestCheck? FirstFailure => _checks.Find(c => !c.Passed);

    /// <summary>The check of that name, or null when it did not run.</summary>
    public SelfTestCheck? Find(string name) => _checks.Find(c => c.Name == name);

    internal void Add(SelfTestCheck check) => _checks.Add(check);
}
