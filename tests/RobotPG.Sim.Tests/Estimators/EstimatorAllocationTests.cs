using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using RobotPG.Sim.Environments;
using Xunit;

namespace RobotPG.Sim.Tests.Estimators;

/// <summary>Every note-algorithm's update allocates nothing after the first (GC.GetAllocatedBytesForCurrentThread).</summary>
public class EstimatorAllocationTests
{
    [Theory]
    [InlineData(EstimatorAlgorithms.Reinforce)]
    [InlineData(EstimatorAlgorithms.Vpg)]
    [InlineData(EstimatorAlgorithms.A2c)]
    [InlineData(EstimatorAlgorithms.OffPolicy)]
    [InlineData(EstimatorAlgorithms.PpoKl)]
    [InlineData(EstimatorAlgorithms.Npg)]
    [InlineData(EstimatorAlgorithms.Trpo)]
    public void UpdateAllocatesNothingAfterTheFirst(string name)
    {
        IEnvironment probe = EnvironmentCatalog.Create("cartpole");
        var context = new AlgorithmContext(probe.ObservationSize, probe.ActionSize, "cartpole", 3);
        // Small rollouts keep the test fast; the code paths are those of the presets.
        EstimatorHyperparameters h = EstimatorPresets.For(name, "cartpole")! with { EnvironmentCount = 2, StepsPerEnvironment = 64, Minibatches = 4, ValueMinibatches = 4 };
        IPolicyGradientAlgorithm algorithm = EstimatorAlgorithms.Create(name, h, context);
        var environments = new IEnvironment[2];
        for (int e = 0; e < 2; e++) environments[e] = EnvironmentCatalog.Create("cartpole", 3 + (ulong)e);
        var trainer = new Trainer(algorithm, environments, 10 * h.BatchSize, 3);
        trainer.RunIteration();
        trainer.RunIteration();
        long before = GC.GetAllocatedBytesForCurrentThread();
        algorithm.Update(trainer.Rollout, 3, 10);
        algorithm.Update(trainer.Rollout, 4, 10);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void EveryNameIsRegistered()
    {
        foreach (string name in EstimatorAlgorithms.Names)
        {
            Assert.Contains(name, AlgorithmRegistry.Names);
            Assert.True(AlgorithmRegistry.TryCreate(name, new AlgorithmContext(3, 1, "pendulum", 1), out IPolicyGradientAlgorithm a));
            Assert.Equal(name, a.Name);
        }
    }
}
