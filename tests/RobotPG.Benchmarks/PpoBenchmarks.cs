using BenchmarkDotNet.Attributes;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Sim.Environments;

namespace RobotPG.Benchmarks;

/// <summary>
/// The PPO optimisation phase for one 2048-step rollout with CleanRL's defaults (1 env × 2048 steps,
/// 10 epochs × 32 minibatches of 64, 64-64 tanh actor and critic, pendulum sizes 3 → 1): GAE, then
/// 320 minibatch gradient steps. Collection is excluded (done once in the setup).
/// Run: dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*PpoBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class PpoBenchmarks
{
    private Ppo _ppo = null!;
    private Trainer _trainer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var hyperparameters = new PpoHyperparameters(); // CleanRL defaults
        _ppo = new Ppo(hyperparameters, new AlgorithmContext(3, 1, "benchmark", 1));
        _trainer = new Trainer(_ppo, [EnvironmentCatalog.Create("pendulum", 1)], 2048 * 1000, 1);
        _trainer.RunIteration(); // fills the rollout and warms every buffer
    }

    [Benchmark]
    public UpdateDiagnostics OptimisationPhase() => _ppo.Update(_trainer.Rollout, 2, 1000);
}
