using System.Globalization;
using System.Text;
using RobotPG.Learning.Training;

namespace RobotPG.Sim.Training;

/// <summary>The per-iteration record of a run, written as CSV and as a small hand-made SVG plot.</summary>
public sealed class LearningCurve
{
    private readonly List<TrainingProgress> _points = [];

    public IReadOnlyList<TrainingProgress> Points => _points;

    public void Add(in TrainingProgress progress) => _points.Add(progress);

    public const string CsvHeader = "iteration,steps,episodes,mean_return,policy_loss,value_loss,entropy,approx_kl,clipfrac,explained_variance,learning_rate,epochs,update_ms,sps";

    public string ToCsv()
    {
        var sb = new StringBuilder();
        sb.Append(CsvHeader).Append('\n');
        foreach (TrainingProgress p in _points)
        {
            var d = p.Diagnostics;
            sb.Append(CultureInfo.InvariantCulture,
                $"{p.Iteration},{p.Steps},{p.Episodes},{Number(p.MeanReturn)},{Number(d.PolicyLoss)},{Number(d.ValueLoss)},{Number(d.Entropy)},{Number(d.ApproxKl)},{Number(d.ClipFraction)},{Number(d.ExplainedVariance)},{Number(d.LearningRate)},{d.Epochs},{Number(p.UpdateMilliseconds)},{Number(p.StepsPerSecond)}\n");
        }
        return sb.ToString();
    }

    // Empty field for "not measured" (NaN) so spreadsheets and pandas read a missing value.
    private static string Number(double v) => double.IsFinite(v) ? v.ToString("G7", CultureInfo.InvariantCulture) : "";

    /// <summary>Mean return against environment steps, with axes, ticks and a title; empty frame if no episode finished.</summary>
    public string ToSvg(string title)
    {
        const double width = 640, height = 400, left = 70, right = 20, top = 40, bottom = 50;
        double plotW = width - left - right, plotH = height - top - bottom;

        double maxSteps = 1, minY = double.MaxValue, maxY = double.MinValue;
        foreach (TrainingProgress p in _points)
        {
            maxSteps = Math.Max(maxSteps, p.Steps);
            if (!double.IsFinite(p.MeanReturn)) continue;
            minY = Math.Min(minY, p.MeanReturn);
            maxY = Math.Max(maxY, p.MeanReturn);
        }
        if (minY > maxY) (minY, maxY) = (0, 1);
        if (maxY - minY < 1e-9) (minY, maxY) = (minY - 1, maxY + 1);
        double pad = 0.05 * (maxY - minY);
        minY -= pad;
        maxY += pad;

        double X(double steps) => left + plotW * steps / maxSteps;
        double Y(double value) => top + plotH * (1 - (value - minY) / (maxY - minY));

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(inv, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        sb.Append(inv, $"<text x=\"{width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n");
        sb.Append(inv, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"black\"/>\n");
        for (int i = 0; i <= 4; i++)
        {
            double v = minY + (maxY - minY) * i / 4, y = Y(v);
            double s = maxSteps * i / 4, x = X(s);
            sb.Append(inv, $"<line x1=\"{left - 4}\" y1=\"{y:F1}\" x2=\"{left}\" y2=\"{y:F1}\" stroke=\"black\"/><text x=\"{left - 7}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{v:G4}</text>\n");
            sb.Append(inv, $"<line x1=\"{x:F1}\" y1=\"{top + plotH}\" x2=\"{x:F1}\" y2=\"{top + plotH + 4}\" stroke=\"black\"/><text x=\"{x:F1}\" y=\"{top + plotH + 18}\" text-anchor=\"middle\">{s:G4}</text>\n");
        }
        sb.Append(inv, $"<text x=\"{left + plotW / 2}\" y=\"{height - 10}\" text-anchor=\"middle\">environment steps</text>\n");
        sb.Append(inv, $"<text x=\"16\" y=\"{top + plotH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {top + plotH / 2})\">mean return (last 10 episodes)</text>\n");

        sb.Append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
        foreach (TrainingProgress p in _points)
            if (double.IsFinite(p.MeanReturn))
                sb.Append(inv, $"{X(p.Steps):F1},{Y(p.MeanReturn):F1} ");
        sb.Append("\"/>\n</svg>\n");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
