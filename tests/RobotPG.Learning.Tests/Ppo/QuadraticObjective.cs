using RobotPG.Learning.Networks;

namespace RobotPG.Learning.Tests.Ppo;

/// <summary>
/// The objective E[−(a − C)²] of a one-dimensional Gaussian policy and its gradient in closed form, the reference of
/// the off-policy correction tests (the replay's here, the fleet learner's in the simulator's tests, which link this
/// file). Also the vector helpers their assertions print.
/// </summary>
internal static class QuadraticObjective
{
    /// <summary>The action the objective rewards.</summary>
    public const double C = 0.7;

    /// <summary>−2(μ − C) ∂μ/∂θ by central differences of the network's mean; −2σ² for log σ.</summary>
    public static double[] ClosedFormGradient(GaussianPolicy policy, double mu, double sigma)
    {
        var g = new double[policy.ParameterCount];
        var p = policy.Parameters;
        var m = new float[1];
        const float delta = 1e-2f;
        for (int k = 0; k < policy.MeanParameterCount; k++)
        {
            float saved = p[k];
            p[k] = saved + delta;
            policy.Mean([1f], m);
            double up = m[0];
            p[k] = saved - delta;
            policy.Mean([1f], m);
            double down = m[0];
            p[k] = saved;
            g[k] = -2 * (mu - C) * (up - down) / (2 * delta);
        }
        g[policy.MeanParameterCount] = -2 * sigma * sigma;
        return g;
    }

    public static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));

    public static double Distance(double[] a, double[] b) => Math.Sqrt(a.Zip(b, (x, y) => (x - y) * (x - y)).Sum());

    public static string Format(double[] v) => "[" + string.Join(", ", v.Select(x => x.ToString("F3"))) + "]";
}
