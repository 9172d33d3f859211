using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Sim.Environments;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Sim.Tests.Estimators;

public class ScratchTuning(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1e-3, 0.95, 1.0)]
    [InlineData(1e-3, 0.95, 0.1)]
    [InlineData(3e-4, 0.95, 0.1)]
    public void PpoKlPendulum(double lr, double lambda, double beta)
    {
        IEnvironment probe = EnvironmentCatalog.Create("pendulum");
        var h = EstimatorPresets.For("ppo-kl", "pendulum")! with { PolicyLearningRate = (float)lr, GaeLambda = lambda, InitialBeta = beta };
        var a = EstimatorAlgorithms.Create("ppo-kl", h, new AlgorithmContext(3, 1, "pendulum", 1));
        var o = EstimatorLearningTests.TrainUntil(a, "pendulum", 1, 200_000, -200, 4);
        output.WriteLine($"lr {lr} λ {lambda} β {beta}: {o.EvalReturn:F1} at {o.Steps} ({o.Seconds:F1} s) reached {o.Reached}");
    }
}
