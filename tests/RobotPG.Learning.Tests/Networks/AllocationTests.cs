using RobotPG.Learning.Networks;
using RobotPG.Learning.Optimization;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Learning.Tests.Networks;

/// <summary>The hot paths allocate nothing after construction and one warm-up call.</summary>
public class AllocationTests
{
    private const int Obs = 24, Act = 4, Batch = 64;

    private static long AllocatedBy(Action action)
    {
        action(); // warm-up: JIT, tiering, lazily created statics
        action();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Policy_forward_sample_gradient_kl_and_fisher_allocate_nothing()
    {
        var policy = new GaussianPolicy(Obs, Act, [64, 64], Batch, 1);
        var old = new GaussianPolicy(Obs, Act, [64, 64], Batch, 2);
        float[] obs = GaussianPolicyTests.RandomRows(Batch, Obs, 3);
        float[] actions = GaussianPolicyTests.RandomRows(Batch, Act, 4);
        float[] weights = GaussianPolicyTests.RandomRows(Batch, 1, 5);
        var mean = new float[Act];
        var action = new float[Act];
        var logProbs = new float[Batch];
        var v = GaussianPolicyTests.RandomRows(policy.ParameterCount, 1, 6);
        var fv = new float[policy.ParameterCount];
        var prng = new Prng(7);

        Assert.Equal(0, AllocatedBy(() => policy.Mean(obs.AsSpan(0, Obs), mean)));
        Assert.Equal(0, AllocatedBy(() => policy.Sample(obs.AsSpan(0, Obs), action, ref prng)));
        Assert.Equal(0, AllocatedBy(() =>
        {
            policy.LogProbBatch(obs, actions, Batch, logProbs);
            policy.AccumulateLogProbGradient(weights, Batch);
            policy.AccumulateEntropyGradient(0.01f);
        }));
        Assert.Equal(0, AllocatedBy(() => policy.FisherVectorProduct(obs, Batch, v, fv, 0.1f)));
        policy.PrepareFisher(obs, Batch);
        Assert.Equal(0, AllocatedBy(() => policy.FisherVectorProduct(v, fv, 0.1f)));
        Assert.Equal(0, AllocatedBy(() =>
        {
            policy.KlDivergence(old, obs, Batch);
            policy.AccumulateKlGradient(1f);
        }));
        Assert.Equal(0, AllocatedBy(() => policy.CopyFrom(old)));
    }

    [Fact]
    public void Value_gradient_and_adam_step_allocate_nothing()
    {
        var value = new ValueNetwork(Obs, [64, 64], Batch, 1);
        var policy = new GaussianPolicy(Obs, Act, [64, 64], Batch, 1);
        float[] obs = GaussianPolicyTests.RandomRows(Batch, Obs, 3);
        float[] targets = GaussianPolicyTests.RandomRows(Batch, 1, 4);
        var adam = new Adam(policy.ParameterCount + value.ParameterCount, 3e-4f, epsilon: 1e-5f);
        Assert.Equal(0, AllocatedBy(() => value.Predict(obs.AsSpan(0, Obs))));
        Assert.Equal(0, AllocatedBy(() => value.AccumulateSquaredErrorGradient(obs, targets, Batch)));
        Assert.Equal(0, AllocatedBy(() =>
        {
            GradientClipping.ClipGlobalNorm(policy.Gradients, value.Gradients, 0.5f);
            adam.Step(policy.Parameters, policy.Gradients, value.Parameters, value.Gradients);
        }));
    }
}
