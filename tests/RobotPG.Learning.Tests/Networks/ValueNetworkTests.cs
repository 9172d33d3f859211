using RobotPG.Learning.Networks;
using RobotPG.Numerics;
using Xunit;
using static RobotPG.Learning.Tests.Networks.ReferenceNetworks;

namespace RobotPG.Learning.Tests.Networks;

/// <summary>Value network against the double reference; tolerances as in <see cref="GaussianPolicyTests"/>.</summary>
public class ValueNetworkTests
{
    private const int Obs = 4, Batch = 9;
    private static readonly int[] Sizes = [Obs, 6, 3, 1];

    private static ValueNetwork MakeValue(ulong seed)
    {
        var value = new ValueNetwork(Obs, [6, 3], 16, seed);
        var prng = new Prng(seed + 7);
        Span<float> theta = value.Parameters;
        for (int i = 0; i < theta.Length; i++) theta[i] = (float)(0.6 * prng.NextGaussian());
        return value;
    }

    [Fact]
    public void Squared_error_loss_and_gradient_match_finite_differences()
    {
        var value = MakeValue(1);
        float[] obs = GaussianPolicyTests.RandomRows(Batch, Obs, 2);
        float[] targets = GaussianPolicyTests.RandomRows(Batch, 1, 3, scale: 2.0);
        double Loss(double[] t)
        {
            double s = 0;
            for (int i = 0; i < Batch; i++)
            {
                double err = MlpForward(t, Sizes, ToDouble(obs.AsSpan(i * Obs, Obs)))[0] - targets[i];
                s += 0.5 * err * err;
            }
            return 0.5 * s / Batch; // scale 0.5 (CleanRL's vf_coef)
        }
        double[] theta = ToDouble(value.Parameters);
        value.ZeroGradients();
        float loss = value.AccumulateSquaredErrorGradient(obs, targets, Batch, 0.5f);
        Assert.True(Math.Abs(Loss(theta) - loss) <= 1e-5 * (1 + Loss(theta)), $"loss {Loss(theta)} vs {loss}");
        double[] fd = Gradient(Loss, theta);
        for (int k = 0; k < fd.Length; k++)
            Assert.True(Math.Abs(fd[k] - value.Gradients[k]) <= 2e-5 * (1 + Math.Abs(fd[k])), $"∇L[{k}]: {fd[k]} vs {value.Gradients[k]}");

        // Predict agrees with the reference.
        for (int i = 0; i < Batch; i++)
        {
            double v = MlpForward(theta, Sizes, ToDouble(obs.AsSpan(i * Obs, Obs)))[0];
            Assert.True(Math.Abs(v - value.Predict(obs.AsSpan(i * Obs, Obs))) <= 1e-5 * (1 + Math.Abs(v)));
        }
    }

    [Fact]
    public void Custom_value_gradient_is_backpropagated()
    {
        var value = MakeValue(4);
        float[] obs = GaussianPolicyTests.RandomRows(Batch, Obs, 5);
        float[] dv = GaussianPolicyTests.RandomRows(Batch, 1, 6);
        var values = new float[Batch];
        value.ZeroGradients();
        value.PredictBatch(obs, Batch, values);
        value.AccumulateGradient(dv, Batch);
        double Objective(double[] t)
        {
            double s = 0;
            for (int i = 0; i < Batch; i++) s += dv[i] * MlpForward(t, Sizes, ToDouble(obs.AsSpan(i * Obs, Obs)))[0];
            return s;
        }
        double[] fd = Gradient(Objective, ToDouble(value.Parameters));
        for (int k = 0; k < fd.Length; k++)
            Assert.True(Math.Abs(fd[k] - value.Gradients[k]) <= 2e-5 * (1 + Math.Abs(fd[k])), $"∇[{k}]: {fd[k]} vs {value.Gradients[k]}");
    }
}
