namespace RobotPG.Sim.Environments;

internal static class EnvironmentState
{
    public static void CheckLength(ReadOnlySpan<double> state, int expected, string description)
    {
        if (state.Length != expected)
            throw new ArgumentException($"state has {state.Length} values; {description} takes {expected}", nameof(state));
    }
}
