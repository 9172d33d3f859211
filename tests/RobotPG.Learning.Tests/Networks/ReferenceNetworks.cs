namespace RobotPG.Learning.Tests.Networks;

/// <summary>
/// Double-precision re-implementation of the networks, written from the documented parameter
/// layout (per layer: W out×in row-major, then b; the policy appends log σ) with Math.Tanh. Tests
/// take finite differences of these functions, independent of the float code under test.
/// </summary>
internal static class ReferenceNetworks
{
    public static double[] MlpForward(ReadOnlySpan<double> theta, int[] sizes, ReadOnlySpan<double> input)
    {
        double[] a = input.ToArray();
        int at = 0;
        for (int l = 0; l < sizes.Length - 1; l++)
        {
            int inSize = sizes[l], outSize = sizes[l + 1];
            var z = new double[outSize];
            for (int o = 0; o < outSize; o++)
            {
                double s = theta[at + outSize * inSize + o];
                for (int i = 0; i < inSize; i++) s += theta[at + o * inSize + i] * a[i];
                z[o] = l < sizes.Length - 2 ? Math.Tanh(s) : s;
            }
            at += outSize * inSize + outSize;
            a = z;
        }
        return a;
    }

    public static int MlpParameterCount(int[] sizes)
    {
        int n = 0;
        for (int l = 0; l < sizes.Length - 1; l++) n += sizes[l + 1] * sizes[l] + sizes[l + 1];
        return n;
    }

    /// <summary>Policy mean μ(s) from the full θ (log σ at the end is ignored).</summary>
    public static double[] PolicyMean(ReadOnlySpan<double> theta, int[] sizes, ReadOnlySpan<double> obs) =>
        MlpForward(theta, sizes, obs);

    public static double LogProb(ReadOnlySpan<double> theta, int[] sizes, ReadOnlySpan<double> obs, ReadOnlySpan<double> action)
    {
        double[] mu = PolicyMean(theta, sizes, obs);
        int m = MlpParameterCount(sizes);
        double lp = 0;
        for (int j = 0; j < mu.Length; j++)
        {
            double logStd = theta[m + j];
            double z = (action[j] - mu[j]) / Math.Exp(logStd);
            lp += -0.5 * z * z - logStd - 0.5 * Math.Log(2 * Math.PI);
        }
        return lp;
    }

    public static double Entropy(ReadOnlySpan<double> theta, int[] sizes)
    {
        int m = MlpParameterCount(sizes);
        double h = 0;
        for (int j = 0; j < sizes[^1]; j++) h += theta[m + j] + 0.5 * (1 + Math.Log(2 * Math.PI));
        return h;
    }

    /// <summary>KL(old ‖ new) between diagonal Gaussians, summed over dimensions.</summary>
    public static double Kl(ReadOnlySpan<double> oldMean, ReadOnlySpan<double> oldLogStd, ReadOnlySpan<double> newMean, ReadOnlySpan<double> newLogStd)
    {
        double kl = 0;
        for (int j = 0; j < oldMean.Length; j++)
        {
            double so = Math.Exp(oldLogStd[j]), sn = Math.Exp(newLogStd[j]);
            double d = oldMean[j] - newMean[j];
            kl += Math.Log(sn / so) + (so * so + d * d) / (2 * sn * sn) - 0.5;
        }
        return kl;
    }

    /// <summary>Central difference of f at θ along coordinate k, in double.</summary>
    public static double[] Gradient(Func<double[], double> f, double[] theta, double h = 1e-6)
    {
        var g = new double[theta.Length];
        for (int k = 0; k < theta.Length; k++)
        {
            double saved = theta[k];
            theta[k] = saved + h;
            double plus = f(theta);
            theta[k] = saved - h;
            double minus = f(theta);
            theta[k] = saved;
            g[k] = (plus - minus) / (2 * h);
        }
        return g;
    }

    public static double[] ToDouble(ReadOnlySpan<float> x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = x[i];
        return d;
    }
}
