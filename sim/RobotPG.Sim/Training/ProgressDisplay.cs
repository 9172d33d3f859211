using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using RobotPG.Learning.Training;

namespace RobotPG.Sim.Training;

/// <summary>How a training run reports each iteration.</summary>
public enum ProgressStyle
{
    /// <summary>A bar redrawn in place (stdout is a terminal).</summary>
    Bar,

    /// <summary>One plain line per report (stdout redirected).</summary>
    Lines,

    /// <summary>One JSON object per iteration, then a final one.</summary>
    Json,
}

/// <summary>Per-iteration JSON record (camelCase like all RobotPG JSON, source-generated; NaN becomes null).</summary>
public sealed record TrainingLine(
    long Steps,
    int Episodes,
    double? MeanReturn,
    double? ApproxKl,
    double? ClipFraction,
    double? ExplainedVariance,
    double? Entropy,
    double? PolicyLoss,
    double? ValueLoss,
    double? LearningRate,
    double UpdateMs,
    double Sps,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Final = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? EvalReturn = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? WallSeconds = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ulong? EvalSeed = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string[]? Files = null);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(TrainingLine))]
[JsonSerializable(typeof(string[]))]
public sealed partial class TrainingJsonContext : JsonSerializerContext;

/// <summary>Writes a run's progress: a live bar on a terminal, plain lines when redirected, or JSON lines.</summary>
public sealed class ProgressDisplay
{
    private readonly TextWriter _out;
    private readonly ProgressStyle _style;
    private readonly int _linesEvery;
    private int _reports;

    public ProgressDisplay(TextWriter output, ProgressStyle style, int iterations)
    {
        _out = output;
        _style = style;
        // Redirected output gets about 20 lines per run instead of one per iteration.
        _linesEvery = Math.Max(1, iterations / 20);
    }

    public static ProgressStyle StyleFor(bool json) =>
        json ? ProgressStyle.Json : Console.IsOutputRedirected ? ProgressStyle.Lines : ProgressStyle.Bar;

    public void Report(in TrainingProgress p)
    {
        _reports++;
        switch (_style)
        {
            case ProgressStyle.Json:
                _out.WriteLine(JsonSerializer.Serialize(ToLine(p), TrainingJsonContext.Default.TrainingLine));
                break;
            case ProgressStyle.Lines:
                if (_reports % _linesEvery == 0 || p.Iteration == p.Iterations) _out.WriteLine(Summary(p));
                break;
            default:
                _out.Write($"\r\u001b[2K{Bar(p.Steps, p.TotalSteps, 30)} {Summary(p)}");
                if (p.Iteration == p.Iterations) _out.WriteLine();
                break;
        }
        _out.Flush();
    }

    /// <summary>
    /// The last report: the evaluation with the seed it used (so <c>robotpg-sim eval --seed</c> reproduces
    /// the number) and every file written, full paths.
    /// </summary>
    public void Final(in TrainingProgress last, double evalReturn, double wallSeconds, int evalEpisodes, ulong evalSeed, IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (_style == ProgressStyle.Json)
        {
            TrainingLine line = ToLine(last) with { Final = true, EvalReturn = evalReturn, WallSeconds = wallSeconds, EvalSeed = evalSeed, Files = [.. files] };
            _out.WriteLine(JsonSerializer.Serialize(line, TrainingJsonContext.Default.TrainingLine));
        }
        else
        {
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {last.Steps} steps, {last.Episodes} episodes in {wallSeconds:F1} s; deterministic eval return {evalReturn:F2} ({evalEpisodes} episodes from --seed {evalSeed}, unseen in training; robotpg-sim eval with that --seed gives the same)"));
            foreach (string file in files) _out.WriteLine($"wrote {file}");
        }
        _out.Flush();
    }

    public static TrainingLine ToLine(in TrainingProgress p)
    {
        var d = p.Diagnostics;
        return new TrainingLine(p.Steps, p.Episodes, Finite(p.MeanReturn), Finite(d.ApproxKl), Finite(d.ClipFraction),
            Finite(d.ExplainedVariance), Finite(d.Entropy), Finite(d.PolicyLoss), Finite(d.ValueLoss), Finite(d.LearningRate),
            Math.Round(p.UpdateMilliseconds, 3), Math.Round(p.StepsPerSecond));
    }

    private static double? Finite(double v) => double.IsFinite(v) ? v : null;

    private static string Summary(in TrainingProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"steps {p.Steps}/{p.TotalSteps}  episodes {p.Episodes}  mean return {Shown(p.MeanReturn, "F1")}  kl {Shown(p.Diagnostics.ApproxKl, "F4")}  SPS {p.StepsPerSecond:F0}");

    // "-" for a quantity the algorithm does not have (NaN), e.g. the KL of REINFORCE or of fd/regression.
    private static string Shown(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Bar(long done, long total, int width)
    {
        int filled = total <= 0 ? width : (int)Math.Clamp(done * width / total, 0, width);
        return "[" + new string('#', filled) + new string('-', width - filled) + "]";
    }
}
