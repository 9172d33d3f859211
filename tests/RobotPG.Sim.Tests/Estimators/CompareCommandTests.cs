using System.Xml.Linq;
using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Estimators;

public class CompareCommandTests
{
    [Fact]
    public void WritesOneSvgWithEveryCurveAndASummaryRowPerAlgorithm()
    {
        string dir = Path.Combine(Path.GetTempPath(), "robotpg-compare-" + Guid.NewGuid().ToString("N"));
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int exit = CompareCommand.Run("cartpole", "reinforce,a2c", "4096", "1", "2048", null, dir, output, error);
            Assert.Equal(0, exit);
            Assert.Equal("", error.ToString());

            XDocument svg = XDocument.Load(Path.Combine(dir, CompareCommand.SvgFileName));
            XNamespace ns = "http://www.w3.org/2000/svg";
            var lines = svg.Descendants(ns + "polyline").ToList();
            Assert.Equal(2, lines.Count);
            Assert.All(lines, l => Assert.NotEmpty(((string?)l.Attribute("points") ?? "").Trim()));
            Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "reinforce");
            Assert.Contains(svg.Descendants(ns + "text"), t => t.Value == "a2c");

            string[] summary = File.ReadAllLines(Path.Combine(dir, CompareCommand.SummaryFileName));
            Assert.Equal(3, summary.Length);
            Assert.StartsWith("algorithm,steps_to_475,", summary[0]);
            Assert.StartsWith("reinforce,", summary[1]);
            Assert.StartsWith("a2c,", summary[2]);
            string[] curves = File.ReadAllLines(Path.Combine(dir, CompareCommand.CurvesFileName));
            Assert.Equal("algorithm,steps,mean_return,eval_return", curves[0]);
            Assert.Contains(curves, l => l.StartsWith("a2c,4080,", StringComparison.Ordinal)); // 51 updates × 80 steps
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("cartpole", "trpo,nope", "1000", "unknown algorithm 'nope'")]
    [InlineData("cartpole", "", "1000", "--algos needs at least one algorithm")]
    [InlineData("moon", "trpo", "1000", "unknown environment 'moon'")]
    [InlineData("cartpole", "trpo", "-5", "--steps must be > 0")]
    public void BadArgumentsGetOneLineAndExitCodeTwo(string env, string algos, string steps, string expected)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = CompareCommand.Run(env, algos, steps, "1", "1000", null, Path.GetTempPath(), output, error);
        Assert.Equal(2, exit);
        string message = error.ToString().TrimEnd('\n');
        Assert.DoesNotContain('\n', message);
        Assert.Contains(expected, message);
    }
}
