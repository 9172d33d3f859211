using System.Text.RegularExpressions;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Training;
using RobotPG.Sim.Training;
using Xunit;

namespace RobotPG.Sim.Tests.Training;

// Plot ticks at round values in one format (before: 295.9, 1283, 4.966E+04 side by side).
public class NiceAxisTests
{
    private static string[] Labels(NiceAxis axis) => [.. Enumerable.Range(0, axis.Count).Select(i => axis.Label(axis.Tick(i)))];

    [Theory]
    [InlineData(0, 198656, "0,50k,100k,150k,200k")]
    [InlineData(0, 49664, "0,20k,40k,60k")]
    [InlineData(-1283, 295.9, "-1500,-1000,-500,0,500")]
    [InlineData(-0.2, 0.95, "-0.5,0.0,0.5,1.0")]
    [InlineData(0, 500, "0,200,400,600")]
    [InlineData(0, 400, "0,100,200,300,400")]   // data on a tick adds no empty interval
    [InlineData(7, 7, "6.0,6.5,7.0,7.5,8.0")]    // a flat curve gets a range around it
    public void Ticks_are_round_and_cover_the_data(double min, double max, string expected)
    {
        var axis = new NiceAxis(min, max);
        Assert.Equal(expected, string.Join(',', Labels(axis)));
        Assert.True(axis.Low <= min && axis.High >= max);
    }

    [Fact]
    public void The_svg_has_only_round_labels_and_the_last_x_label_inside_the_picture()
    {
        var curve = new LearningCurve();
        for (int i = 1; i <= 97; i++)
            curve.Add(new TrainingProgress(i * 2048L, 198656, i, i, 97, -1283 + i * 16.0, new UpdateDiagnostics(0, 0, 0, 0, 0, 0, 0, 1), 1, 1));
        string svg = curve.ToSvg("t");
        var labels = Regex.Matches(svg, "text-anchor=\"(?:end|middle)\">([^<]*)</text>").Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("200k", labels);
        Assert.Contains("-1500", labels);
        Assert.DoesNotContain(labels, l => l.Contains('E'));
        // The last x tick sits at the plot's right edge, 20 px from the picture's: room for half of "200k".
        Match last = Regex.Match(svg, "<text x=\"([0-9.]+)\" y=\"[0-9.]+\" text-anchor=\"middle\">200k</text>");
        Assert.True(last.Success);
        Assert.Equal(620.0, double.Parse(last.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }
}
