using BenchmarkDotNet.Attributes;
using RobotPG.Learning.Environments;
using RobotPG.Sim.Environments;

namespace RobotPG.Benchmarks;

/// <summary>
/// Environment steps per second (through the ClipAction and TimeLimit wrappers, auto-reset included):
/// one operation = one step. Run: dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*EnvironmentBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class EnvironmentBenchmarks
{
    private const int Steps = 10_000;

    [Params("pendulum", "cartpole", "mountaincar")]
    public string Environment { get; set; } = "pendulum";

    private IEnvironment _env = null!;
    private float[] _observation = null!;
    private float[] _actions = null!;

    [GlobalSetup]
    public void Setup()
    {
        _env = EnvironmentCatalog.Create(Environment, 1);
        _observation = new float[_env.ObservationSize];
        _env.Reset(_observation, 1);
        // A fixed, varied action sequence (sawtooth over and beyond the action box).
        _actions = new float[Steps];
        for (int i = 0; i < Steps; i++) _actions[i] = (i % 17 - 8) * 0.3f;
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public float Step()
    {
        float sum = 0f;
        for (int i = 0; i < Steps; i++)
        {
            StepResult r = _env.Step(_actions.AsSpan(i, 1), _observation);
            sum += r.Reward;
            if (r.Done) _env.Reset(_observation);
        }
        return sum;
    }
}
