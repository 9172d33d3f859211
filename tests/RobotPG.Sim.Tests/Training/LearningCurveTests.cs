using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Training;
using RobotPG.Sim.Training;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

public class LearningCurveTests
{
    private static TrainingProgress Point(int iteration, long steps, double meanReturn) =>
        new(steps, 3000, iteration, iteration, 3, meanReturn, new UpdateDiagnostics(0.1f, 2f, 1.4f, 0.01f, 0.05f, 0.5f, 3e-4f, 10), 12.5, 1000);

    [Fact]
    public void CsvHasOneRowPerIterationAndBlankForUnmeasured()
    {
        var curve = new LearningCurve();
        curve.Add(Point(1, 1000, double.NaN));
        curve.Add(Point(2, 2000, -500.25));
        string[] lines = curve.ToCsv().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal(LearningCurve.CsvHeader.Split(',').Length, lines[1].Split(',').Length);
        Assert.StartsWith("1,1000,1,,", lines[1]);
        Assert.StartsWith("2,2000,2,-500.25,", lines[2]);
    }

    [Fact]
    public void SvgPlotsFinitePointsInsideThePlotArea()
    {
        var curve = new LearningCurve();
        curve.Add(Point(1, 1000, double.NaN));
        curve.Add(Point(2, 2000, -800));
        curve.Add(Point(3, 3000, -200));
        string svg = curve.ToSvg("ppo on pendulum");
        string points = svg[(svg.IndexOf("points=\"", StringComparison.Ordinal) + 8)..];
        points = points[..points.IndexOf('"')];
        string[] pairs = points.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, pairs.Length);
        // The last point is at the right edge (x = 70 + 550) and the higher return is higher on screen.
        string[] p1 = pairs[0].Split(','), p2 = pairs[1].Split(',');
        Assert.Equal("620.0", p2[0]);
        Assert.True(double.Parse(p2[1], System.Globalization.CultureInfo.InvariantCulture) < double.Parse(p1[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("ppo on pendulum", svg);
    }
}
