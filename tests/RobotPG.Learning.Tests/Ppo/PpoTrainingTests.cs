using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Training;
using Xunit;

namespace RobotPG.Learning.Tests.Ppo;

public class PpoTrainingTests
{
    private static readonly PpoHyperparameters Small = new()
    {
        EnvironmentCount = 2,
        StepsPerEnvironment = 256,
        Minibatches = 8,
        Epochs = 4,
        Gamma = 0.9,
        LearningRate = 3e-3f,
    };

    private static Trainer NewTrainer(PpoHyperparameters h, ulong seed, long steps)
    {
        var ppo = new Algorithms.Ppo(h, new AlgorithmContext(1, 1, "point", seed));
        var envs = new IEnvironment[h.EnvironmentCount];
        for (int e = 0; e < envs.Length; e++) envs[e] = PointMass.Create(seed + (ulong)e);
        return new Trainer(ppo, envs, steps, seed);
    }

    // A learning curve: seconds per run and it only says "learns". Mutation runs leave it out (Category!=Slow).
    [Fact, Trait("Category", "Slow")]
    public void LearnsToHoldThePointAtZero()
    {
        // Doing nothing from x ~ U(−1, 1) costs 50·E[x²] ≈ 16.7 per episode; driving x to 0 at full speed
        // costs ≈ 1.6 on average. The trained deterministic policy must get well under the idle cost.
        Trainer trainer = NewTrainer(Small, 3, 40_000);
        while (!trainer.Finished) trainer.RunIteration();
        double eval = PolicyEvaluation.Run(trainer.Agent, PointMass.Create(99), 20, 99);
        Assert.True(eval > -5.0, $"deterministic return {eval:F2} after {trainer.Steps} steps");
    }

    [Fact]
    public void SameSeedGivesIdenticalParametersAndDiagnostics()
    {
        Trainer a = NewTrainer(Small, 5, 4 * 512), b = NewTrainer(Small, 5, 4 * 512), c = NewTrainer(Small, 6, 4 * 512);
        TrainingProgress pa = default, pb = default;
        while (!a.Finished)
        {
            pa = a.RunIteration();
            pb = b.RunIteration();
            c.RunIteration();
        }
        Assert.Equal(pa.Diagnostics, pb.Diagnostics);
        Assert.Equal(pa.MeanReturn, pb.MeanReturn);
        Assert.True(a.Agent.Policy.Parameters.SequenceEqual(b.Agent.Policy.Parameters));
        Assert.True(a.Agent.Value.Parameters.SequenceEqual(b.Agent.Value.Parameters));
        Assert.False(a.Agent.Policy.Parameters.SequenceEqual(c.Agent.Policy.Parameters));
    }

    [Fact]
    public void LearningRateAnnealsLinearlyToZero()
    {
        Trainer t = NewTrainer(Small, 1, 4 * 512);
        for (int i = 1; i <= 4; i++)
        {
            TrainingProgress p = t.RunIteration();
            Assert.Equal(3e-3f * (1f - (i - 1) / 4f), p.Diagnostics.LearningRate, 1e-9f);
            Assert.Equal(i * 512, p.Steps);
        }
    }

    [Fact]
    public void TargetKlStopsAfterTheFirstEpoch()
    {
        Trainer t = NewTrainer(Small with { TargetKl = 1e-12f }, 1, 512);
        TrainingProgress p = t.RunIteration();
        Assert.Equal(1, p.Diagnostics.Epochs);
        Trainer full = NewTrainer(Small, 1, 512);
        Assert.Equal(4, full.RunIteration().Diagnostics.Epochs);
    }

    [Fact]
    public void DiagnosticsAreInRange()
    {
        Trainer t = NewTrainer(Small, 2, 3 * 512);
        t.RunIteration();
        TrainingProgress p = t.RunIteration();
        UpdateDiagnostics d = p.Diagnostics;
        Assert.InRange(d.ClipFraction, 0f, 1f);
        Assert.True(d.ApproxKl >= 0f && float.IsFinite(d.ApproxKl));
        // Entropy of a 1-D Gaussian is log σ + ½(1 + log 2π); σ started at 1.
        Assert.InRange(d.Entropy, 0.5f, 2f);
        Assert.True(d.ExplainedVariance <= 1f);
        Assert.True(p.Episodes > 0 && double.IsFinite(p.MeanReturn));
    }

    [Fact]
    public void UpdateAndCollectionAllocateNothingAfterTheFirstIteration()
    {
        Trainer t = NewTrainer(Small, 4, 10 * 512);
        t.RunIteration();
        t.RunIteration();
        long before = GC.GetAllocatedBytesForCurrentThread();
        t.RunIteration();
        t.RunIteration();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        var ppo = (Algorithms.Ppo)t.Algorithm;
        before = GC.GetAllocatedBytesForCurrentThread();
        ppo.Update(t.Rollout, 5, 10);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void InvalidHyperparametersAreRefusedWithTheSetting()
    {
        var e = Assert.Throws<ArgumentException>(() => new Algorithms.Ppo(Small with { Minibatches = 0 }, new AlgorithmContext(1, 1, "x", 0)));
        Assert.Contains("minibatches", e.Message);
    }
}
