using System.Globalization;
using RobotPG.Learning.Environments;
using RobotPG.Sim.Environments;

namespace RobotPG.Sim.Training;

/// <summary>A command-line value that cannot be used; the message is the one line the user sees.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Parsing and checking of the training verbs' arguments; every failure is a <see cref="UsageException"/>.</summary>
public static class CommandArguments
{
    public const int ExitOk = 0, ExitFailure = 1, ExitUsage = 2;

    public static long PositiveInt64(string? text, string option)
    {
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value))
            throw new UsageException($"{option} must be a whole number (got '{text}')");
        if (value <= 0) throw new UsageException($"{option} must be > 0 (got {value})");
        return value;
    }

    public static double PositiveDouble(string? text, string option)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            throw new UsageException($"{option} must be a finite number (got '{text}')");
        if (!(value > 0)) throw new UsageException($"{option} must be > 0 (got {value.ToString(CultureInfo.InvariantCulture)})");
        return value;
    }

    public static ulong Seed(string? text, string option)
    {
        if (!ulong.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong value))
            throw new UsageException($"{option} must be a non-negative whole number (got '{text}')");
        return value;
    }

    /// <summary>A name <c>train</c> and <c>eval</c> know: a Gymnasium-style task or a robot.</summary>
    public static void CheckEnvironment(string? name)
    {
        if (name is null || !RobotTraining.AllEnvironmentNames.Contains(name))
            throw new UsageException($"unknown environment '{name}' (known: {string.Join(", ", RobotTraining.AllEnvironmentNames)})");
    }

    /// <summary>A Gymnasium-style task (the verbs that replay or compare on one: rollout, compare).</summary>
    public static IEnvironment Environment(string? name, ulong seed)
    {
        CheckEnvironment(name);
        if (RobotTraining.Contains(name))
            throw new UsageException($"'{name}' is a robot: it trains and evaluates with train/eval --config; this verb runs on {string.Join(", ", EnvironmentCatalog.Names)}");
        return EnvironmentCatalog.Create(name!, seed);
    }

    /// <summary>Creates the directory if needed and proves it writable with a probe file.</summary>
    public static string WritableDirectory(string? path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} needs a directory");
        string full;
        try
        {
            full = Path.GetFullPath(path);
            Directory.CreateDirectory(full);
            string probe = Path.Combine(full, ".robotpg-write-probe");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"{option} '{path}' is not a writable directory: {e.Message}");
        }
        return full;
    }

    /// <summary>Comma-separated numbers, exactly <paramref name="count"/> of them.</summary>
    public static double[] Numbers(string? text, int count, string what)
    {
        string[] fields = (text ?? "").Split(',');
        if (fields.Length != count || text is null)
            throw new UsageException($"{what} needs {count} comma-separated numbers (got '{text}')");
        var values = new double[count];
        for (int i = 0; i < count; i++)
            if (!double.TryParse(fields[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw new UsageException($"{what}: '{fields[i].Trim()}' is not a finite number");
        return values;
    }

    /// <summary>
    /// Reads an action sequence: one step per line, <paramref name="actionSize"/> comma-separated numbers;
    /// blank lines and lines starting with '#' are skipped. Errors name the file and line.
    /// </summary>
    public static float[][] ActionsCsv(string? path, int actionSize)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--actions needs a CSV file");
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"{path}: cannot be read: {e.Message}");
        }
        var actions = new List<float[]>();
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            string[] fields = line.Split(',');
            if (fields.Length != actionSize)
                throw new UsageException($"{path}:{n + 1}: expected {actionSize} value(s) per line, got {fields.Length}");
            var action = new float[actionSize];
            for (int j = 0; j < actionSize; j++)
                if (!float.TryParse(fields[j].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out action[j]) || !float.IsFinite(action[j]))
                    throw new UsageException($"{path}:{n + 1}: '{fields[j].Trim()}' is not a finite number");
            actions.Add(action);
        }
        if (actions.Count == 0) throw new UsageException($"{path}: holds no actions");
        return [.. actions];
    }
}
