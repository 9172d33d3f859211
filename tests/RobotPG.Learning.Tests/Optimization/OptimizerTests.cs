using RobotPG.Learning.Optimization;
using Xunit;

namespace RobotPG.Learning.Tests.Optimization;

public class OptimizerTests
{
    // Worked by hand (PyTorch's update, lr 0.1, β 0.9/0.999, ε 1e-8) for θ₀ = (1, −2) and gradients
    // (0.5, −3), (−0.2, 1), (0.1, 0). Step 1 moves each coordinate by exactly lr·sign(g) (m̂/√v̂ = ±1);
    // step 2, coordinate 0: m = 0.025, v = 2.8975e-4, m̂ = 0.025/0.19, v̂ = 2.8975e-4/0.001999 → θ = 0.86544.
    private static readonly double[,] Expected =
    {
        { 0.900000002, -1.9000000003333333 },
        { 0.8654394181165108, -1.8599781433169098 },
        { 0.8275002408356956, -1.8290411318785376 },
    };

    private static readonly float[][] Gradients = [[0.5f, -3f], [-0.2f, 1f], [0.1f, 0f]];

    [Fact]
    public void Adam_matches_hand_computed_steps()
    {
        var adam = new Adam(2, 0.1f);
        float[] theta = [1f, -2f];
        for (int t = 0; t < 3; t++)
        {
            adam.Step(theta, Gradients[t]);
            Assert.Equal(t + 1, adam.StepCount);
            // float32 state: 1e-6 relative.
            Assert.Equal(Expected[t, 0], theta[0], 1e-6);
            Assert.Equal(Expected[t, 1], theta[1], 2e-6);
        }
    }

    [Fact]
    public void Adam_two_spans_equal_one_span_and_state_restores()
    {
        var joint = new Adam(2, 0.1f);
        var split = new Adam(2, 0.1f);
        float[] theta = [1f, -2f];
        float[] a = [1f], b = [-2f];
        for (int t = 0; t < 2; t++)
        {
            joint.Step(theta, Gradients[t]);
            split.Step(a, Gradients[t].AsSpan(0, 1), b, Gradients[t].AsSpan(1, 1));
        }
        Assert.Equal(theta[0], a[0]);
        Assert.Equal(theta[1], b[0]);

        // A fresh optimiser given m, v and t continues exactly like the original.
        var restored = new Adam(2, 0.1f);
        joint.FirstMoment.CopyTo(restored.FirstMoment);
        joint.SecondMoment.CopyTo(restored.SecondMoment);
        restored.StepCount = joint.StepCount;
        float[] copy = (float[])theta.Clone();
        joint.Step(theta, Gradients[2]);
        restored.Step(copy, Gradients[2]);
        Assert.Equal(theta, copy);
        Assert.Equal(Expected[2, 0], theta[0], 1e-6);
    }

    [Fact]
    public void Adam_learning_rate_can_be_changed_between_steps()
    {
        var adam = new Adam(1, 0.1f);
        float[] theta = [0f];
        adam.LearningRate = 0.01f;
        adam.Step(theta, [2f]);
        Assert.Equal(-0.01f, theta[0], 1e-7f); // first step moves by lr·sign(g)
    }

    [Fact]
    public void Adam_step_allocates_nothing()
    {
        var adam = new Adam(4096, 1e-3f, epsilon: 1e-5f);
        var theta = new float[4096];
        var grad = new float[4096];
        grad.AsSpan().Fill(0.5f);
        adam.Step(theta, grad);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) adam.Step(theta, grad);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Clipping_uses_one_joint_norm_and_returns_it()
    {
        float[] a = [3f, 0f], b = [0f, 4f];
        float norm = GradientClipping.ClipGlobalNorm(a, b, 1f);
        Assert.Equal(5f, norm, 1e-6f);
        // Scaled by max/(norm + 1e-6) as PyTorch's clip_grad_norm_.
        double k = 1.0 / (5.0 + 1e-6);
        Assert.Equal(3 * k, a[0], 1e-6);
        Assert.Equal(4 * k, b[1], 1e-6);
        Assert.Equal(1.0, Math.Sqrt(a[0] * a[0] + b[1] * b[1]), 1e-5);

        float[] small = [0.3f, 0.4f];
        Assert.Equal(0.5f, GradientClipping.ClipGlobalNorm(small, 1f), 1e-6f);
        Assert.Equal([0.3f, 0.4f], small); // under the limit: untouched
        Assert.Equal(0.5f, GradientClipping.GlobalNorm(small), 1e-6f);
    }
}
