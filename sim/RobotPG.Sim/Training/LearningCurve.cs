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

    public const string CsvHeader = "iteration,steps,episodes,mean_return,policy_loss,value_loss,entropy,approx_kl,clip_fraction,explained_variance,learning_rate,epochs,update_ms,sps";

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
        var range = new StepsReturnRange();
        foreach (TrainingProgress p in _points) range.Include(p.Steps, p.MeanReturn);
        var plot = new ReturnPlot(width: 640, height: 400, right: 20, range);

        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        plot.WriteFrame(sb, title, titleX: plot.Width / 2);
        sb.Append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
        foreach (TrainingProgress p in _points)
            if (double.IsFinite(p.MeanReturn))
                sb.Append(inv, $"{plot.X(p.Steps):F1},{plot.Y(p.MeanReturn):F1} ");
        sb.Append("\"/>\n</svg>\n");
        return sb.ToString();
    }
}

/// <summary>The extent of the data of a <see cref="ReturnPlot"/>: steps from 0, finite returns only.</summary>
internal struct StepsReturnRange()
{
    public double MaxSteps { get; private set; } = 1;
    public double MinReturn { get; private set; } = double.MaxValue;
    public double MaxReturn { get; private set; } = double.MinValue;

    public void Include(double steps, double meanReturn)
    {
        MaxSteps = Math.Max(MaxSteps, steps);
        if (!double.IsFinite(meanReturn)) return;
        MinReturn = Math.Min(MinReturn, meanReturn);
        MaxReturn = Math.Max(MaxReturn, meanReturn);
    }
}

/// <summary>
/// Axis ticks at round values: the step is 1, 2 or 5 × 10^k, chosen for about four intervals, and the
/// axis runs from the tick at or below the data to the tick at or above it. Every label of an axis has
/// the same format: whole thousands as "50k" when the step is at least 1000, else as many decimals as
/// the step needs.
/// </summary>
public readonly struct NiceAxis
{
    public NiceAxis(double min, double max)
    {
        if (!(max > min)) (min, max) = (min - 1, min + 1);
        double raw = (max - min) / 4;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double fraction = raw / magnitude;
        Step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
        // The small tolerance keeps data that sits on a tick (up to rounding) from adding an empty interval.
        Low = Math.Floor(min / Step + 1e-9) * Step;
        High = Math.Ceiling(max / Step - 1e-9) * Step;
        Count = (int)Math.Round((High - Low) / Step) + 1;
    }

    public double Low { get; }
    public double High { get; }
    public double Step { get; }

    /// <summary>Number of ticks, both ends included.</summary>
    public int Count { get; }

    public double Tick(int i) => Low + i * Step;

    public string Label(double value)
    {
        var inv = CultureInfo.InvariantCulture;
        if (Math.Abs(value) < Step * 1e-9) value = 0; // no "-0"
        if (Step >= 1000 && value == 0) return "0";
        if (Step >= 1000) return (value / 1000).ToString("0.###", inv) + "k";
        int decimals = Math.Max(0, (int)-Math.Floor(Math.Log10(Step) + 1e-9));
        return value.ToString("F" + decimals.ToString(inv), inv);
    }
}

/// <summary>
/// A hand-made SVG plot of mean return against environment steps: the frame (title, plot box, ticks
/// at round values, axis labels) and the data-to-pixel mapping, shared by a single run's
/// <see cref="LearningCurve"/> and the algorithm comparison. A default range is used when no finite
/// return was seen (so an empty run still draws a frame).
/// </summary>
internal readonly struct ReturnPlot
{
    // Room for labels like "-1500" on the left and half of "200k" right of the last x tick.
    private const double Left = 70, Top = 40, Bottom = 50;
    private readonly NiceAxis _x, _y;

    public ReturnPlot(double width, double height, double right, StepsReturnRange range)
    {
        double minReturn = range.MinReturn, maxReturn = range.MaxReturn;
        Width = width;
        Height = height;
        PlotWidth = width - Left - right;
        PlotHeight = height - Top - Bottom;
        if (minReturn > maxReturn) (minReturn, maxReturn) = (0, 1);
        _x = new NiceAxis(0, range.MaxSteps);
        _y = new NiceAxis(minReturn, maxReturn);
    }

    public double Width { get; }
    public double Height { get; }
    public double PlotWidth { get; }
    public double PlotHeight { get; }
    public double PlotLeft => Left;
    public double PlotTop => Top;

    public double X(double steps) => Left + PlotWidth * (steps - _x.Low) / (_x.High - _x.Low);
    public double Y(double value) => Top + PlotHeight * (1 - (value - _y.Low) / (_y.High - _y.Low));

    /// <summary>Opens the SVG and draws everything but the data; the caller adds its polylines and closes with &lt;/svg&gt;.</summary>
    public void WriteFrame(StringBuilder sb, string title, double titleX)
    {
        var inv = CultureInfo.InvariantCulture;
        double plotW = PlotWidth, plotH = PlotHeight;
        sb.Append(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(inv, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(inv, $"<text x=\"{titleX}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n");
        sb.Append(inv, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"black\"/>\n");
        for (int i = 0; i < _y.Count; i++)
        {
            double v = _y.Tick(i), y = Y(v);
            sb.Append(inv, $"<line x1=\"{Left - 4}\" y1=\"{y:F1}\" x2=\"{Left}\" y2=\"{y:F1}\" stroke=\"black\"/><text x=\"{Left - 7}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{_y.Label(v)}</text>\n");
        }
        for (int i = 0; i < _x.Count; i++)
        {
            double s = _x.Tick(i), x = X(s);
            sb.Append(inv, $"<line x1=\"{x:F1}\" y1=\"{Top + plotH}\" x2=\"{x:F1}\" y2=\"{Top + plotH + 4}\" stroke=\"black\"/><text x=\"{x:F1}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{_x.Label(s)}</text>\n");
        }
        sb.Append(inv, $"<text x=\"{Left + plotW / 2}\" y=\"{Height - 10}\" text-anchor=\"middle\">environment steps</text>\n");
        sb.Append(inv, $"<text x=\"16\" y=\"{Top + plotH / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + plotH / 2})\">mean return (last 10 episodes)</text>\n");
    }

    public static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
