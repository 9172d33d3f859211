using BenchmarkDotNet.Attributes;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Training;
using RobotPG.Numerics;
using RobotPG.Sim.Environments;

namespace RobotPG.Benchmarks;

/// <summary>
/// Time per update of each note-algorithm with its cartpole preset, on a fixed rollout collected once
/// (one operation = one Update: REINFORCE/VPG/off-policy/NPG/TRPO/PPO-KL on 4 × 512 steps, A2C on
/// 16 × 5), plus the black-box gradients on the point mass and a 10-iteration CG solve.
/// Run: dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*EstimatorBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class EstimatorBenchmarks
{
    private IPolicyGradientAlgorithm _algorithm = null!;
    private Trainer _trainer = null!;
    private int _iteration;

    [Params("reinforce", "vpg", "a2c", "off-policy", "ppo-kl", "npg", "trpo")]
    public string Algorithm { get; set; } = "reinforce";

    [GlobalSetup]
    public void Setup()
    {
        IEnvironment probe = EnvironmentCatalog.Create("cartpole");
        _algorithm = AlgorithmRegistry.Create(Algorithm, new AlgorithmContext(probe.ObservationSize, probe.ActionSize, "cartpole", 1));
        var environments = new IEnvironment[_algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < environments.Length; e++) environments[e] = EnvironmentCatalog.Create("cartpole", 1 + (ulong)e);
        _trainer = new Trainer(_algorithm, environments, 1_000_000, 1);
        _trainer.RunIteration();
    }

    [Benchmark]
    public UpdateDiagnostics Update()
    {
        _iteration = _iteration % 100 + 1;
        return _algorithm.Update(_trainer.Rollout, _iteration, 100);
    }
}

/// <summary>One finite-difference / regression ascent step on the point mass (8 episodes per utility), and CG.</summary>
[MemoryDiagnoser]
public class BlackBoxGradientBenchmarks
{
    private FiniteDifferencePolicySearch _differences = null!, _regression = null!;
    private ConjugateGradient<float> _cg = null!;
    private DiagonalOperator _operator;
    private readonly float[] _b = new float[4546], _x = new float[4546];

    private struct DiagonalOperator(float[] diagonal) : ILinearOperator<float>
    {
        public readonly void Apply(ReadOnlySpan<float> x, Span<float> result)
        {
            for (int i = 0; i < x.Length; i++) result[i] = diagonal[i] * x[i];
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        _differences = new FiniteDifferencePolicySearch(new LinearGaussianPolicy(2, 1), new PointMass(),
            new PolicySearchSettings(PolicySearchGradient.FiniteDifference, 0.5, 1e-3, 6, 0.01, 8, 100, 1.0));
        _regression = new FiniteDifferencePolicySearch(new LinearGaussianPolicy(2, 1), new PointMass(),
            new PolicySearchSettings(PolicySearchGradient.Regression, 0.5, 1e-3, 6, 0.01, 8, 100, 1.0));
        var rng = new Prng(1);
        float[] diagonal = new float[_b.Length];
        for (int i = 0; i < _b.Length; i++)
        {
            diagonal[i] = (float)(1 + rng.NextDouble());
            _b[i] = (float)rng.NextGaussian();
        }
        _operator = new DiagonalOperator(diagonal);
        _cg = new ConjugateGradient<float>(_b.Length);
    }

    [Benchmark]
    public double FiniteDifferenceStep() => _differences.Update();

    [Benchmark]
    public double RegressionStep() => _regression.Update();

    /// <summary>10 CG iterations over 4546 parameters (the 4→64→64→1 cartpole policy) with a diagonal operator: CG's own cost.</summary>
    [Benchmark]
    public int ConjugateGradientTenIterations() => _cg.Solve(ref _operator, _b, _x, 10, 0.1).Iterations;
}
