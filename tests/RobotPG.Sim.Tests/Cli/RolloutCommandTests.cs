using System.Globalization;
using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

public class RolloutCommandTests
{
    [Fact]
    public void ReplaysActionsFromTheGivenState()
    {
        string csv = Path.Combine(CliTestRun.TempDirectory(), "actions.csv");
        File.WriteAllText(csv, "# torque\n1.0\n\n3.0\n");
        var (exit, stdout, stderr) = CliTestRun.Invoke(RolloutCommand.Create(), "--env", "pendulum", "--init-state", "0.5,-1.0", "--actions", csv);
        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.Equal("step,obs0,obs1,obs2,reward,terminated,truncated", lines[0]);

        string[] row0 = lines[1].Split(',');
        Assert.Equal("0", row0[0]);
        Assert.Equal((float)Math.Cos(0.5), float.Parse(row0[1], CultureInfo.InvariantCulture));
        Assert.Equal(-1f, float.Parse(row0[3], CultureInfo.InvariantCulture));

        // Step 1 worked by hand from the Pendulum-v1 formulas (see PendulumTests): θ̇ = −0.49043…, r = −0.351.
        string[] row1 = lines[2].Split(',');
        Assert.Equal("1", row1[0]);
        Assert.Equal((float)0.8890738027418, float.Parse(row1[1], CultureInfo.InvariantCulture));
        Assert.Equal((float)-0.4904308460468477, float.Parse(row1[3], CultureInfo.InvariantCulture));
        Assert.Equal(-0.351f, float.Parse(row1[4], CultureInfo.InvariantCulture));
        Assert.Equal("false", row1[5]);
        Assert.Equal("false", row1[6]);
        Assert.Equal("2", lines[3].Split(',')[0]);
    }

    [Fact]
    public void StopsAtTermination()
    {
        string csv = Path.Combine(CliTestRun.TempDirectory(), "actions.csv");
        File.WriteAllText(csv, string.Concat(Enumerable.Repeat("1\n", 50)));
        var (exit, stdout, _) = CliTestRun.Invoke(RolloutCommand.Create(), "--env", "cartpole", "--init-state", "2.3,0.5,0,0", "--actions", csv);
        Assert.Equal(0, exit);
        string[] lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Full force to the right from x = 2.3, ẋ = 0.5: an independent Python run of the CartPole-v1
        // equations puts x at 2.4186 (> 2.4) on step 6, θ still −0.088. Header + row 0 + 6 steps.
        Assert.Equal(8, lines.Length);
        Assert.EndsWith(",1,true,false", lines[^1]);
    }
}
