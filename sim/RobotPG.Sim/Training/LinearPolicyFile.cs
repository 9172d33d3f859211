using System.Text.Json;
using System.Text.Json.Serialization;
using RobotPG.Learning.Estimators;

namespace RobotPG.Sim.Training;

/// <summary>
/// The file <c>train --algo fd|regression</c> writes (policy.linear.json). The checkpoint format
/// (policy.rpgp) holds a float32 tanh MLP, which cannot express a linear policy exactly, and its
/// sections are shared with the controller; a linear policy is a handful of doubles, so it gets this
/// small JSON document instead (the // note is not part of the file):
/// <code>
/// { "format": "robotpg-linear-gaussian-policy", "version": 1, "tag": "point-mass/fd",
///   "observation_size": 2, "action_size": 1,
///   "weights": [[w00, w01]],   // action_size rows × observation_size columns
///   "bias": [b0], "log_std": [log σ0],
///   "steps": 96000, "episodes": 1920, "updates": 60 }
/// </code>
/// The deterministic action is μ = W s + b (the environment applies its own action bounds); the
/// stochastic one is N(μ, diag(exp(log_std)²)). Numbers are written round-trip exact.
/// </summary>
public sealed record LinearPolicyDocument(
    string Format,
    int Version,
    string Tag,
    int ObservationSize,
    int ActionSize,
    double[][] Weights,
    double[] Bias,
    double[] LogStd,
    long Steps,
    long Episodes,
    long Updates);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(LinearPolicyDocument))]
public sealed partial class LinearPolicyJsonContext : JsonSerializerContext;

/// <summary>Writes and reads <see cref="LinearPolicyDocument"/>s.</summary>
public static class LinearPolicyFile
{
    public const string Format = "robotpg-linear-gaussian-policy";
    public const int Version = 1;

    public static LinearPolicyDocument ToDocument(LinearGaussianPolicy policy, string tag, long steps, long episodes, long updates)
    {
        ArgumentNullException.ThrowIfNull(policy);
        int o = policy.ObservationSize, k = policy.ActionSize;
        ReadOnlySpan<double> p = policy.Parameters;
        var weights = new double[k][];
        for (int i = 0; i < k; i++) weights[i] = p.Slice(i * o, o).ToArray();
        return new LinearPolicyDocument(Format, Version, tag, o, k, weights, p.Slice(k * o, k).ToArray(), policy.LogStd.ToArray(),
            steps, episodes, updates);
    }

    public static void Save(string path, LinearPolicyDocument document) =>
        File.WriteAllText(path, JsonSerializer.Serialize(document, LinearPolicyJsonContext.Default.LinearPolicyDocument) + "\n");

    /// <summary>Reads a policy file; every defect is an <see cref="InvalidDataException"/> naming the file and the field.</summary>
    public static (LinearGaussianPolicy policy, LinearPolicyDocument document) Load(string path)
    {
        LinearPolicyDocument? d;
        try
        {
            d = JsonSerializer.Deserialize(File.ReadAllText(path), LinearPolicyJsonContext.Default.LinearPolicyDocument);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a linear policy file: {e.Message}");
        }
        if (d is null || d.Format != Format) throw new InvalidDataException($"{path}: format is not '{Format}'");
        if (d.Version != Version) throw new InvalidDataException($"{path}: version {d.Version} is not the supported {Version}");
        if (d.ObservationSize < 1 || d.ActionSize < 1) throw new InvalidDataException($"{path}: observation_size and action_size must be ≥ 1");
        int o = d.ObservationSize, k = d.ActionSize;
        if (d.Weights is null || d.Weights.Length != k || Array.Exists(d.Weights, row => row is null || row.Length != o))
            throw new InvalidDataException($"{path}: weights must be {k} rows of {o} numbers");
        if (d.Bias is null || d.Bias.Length != k) throw new InvalidDataException($"{path}: bias must hold {k} numbers");
        if (d.LogStd is null || d.LogStd.Length != k) throw new InvalidDataException($"{path}: log_std must hold {k} numbers");
        var policy = new LinearGaussianPolicy(o, k);
        Span<double> p = policy.Parameters;
        for (int i = 0; i < k; i++) d.Weights[i].CopyTo(p.Slice(i * o, o));
        d.Bias.CopyTo(p.Slice(k * o, k));
        d.LogStd.CopyTo(p.Slice(k * (o + 1), k));
        foreach (double v in p)
            if (!double.IsFinite(v)) throw new InvalidDataException($"{path}: holds a non-finite parameter");
        return (policy, d);
    }
}
