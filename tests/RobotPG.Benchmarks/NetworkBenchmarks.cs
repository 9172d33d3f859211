using BenchmarkDotNet.Attributes;
using MathNet.Numerics.LinearAlgebra;
using RobotPG.Learning.Networks;
using RobotPG.Numerics;

namespace RobotPG.Benchmarks;

/// <summary>
/// Single-observation policy forward + sample (the control step's network cost) for the two robot
/// sizes, against the same network written with MathNet.Numerics float matrices; and forward +
/// backward of actor and critic over a 64-sample minibatch (a PPO minibatch).
/// Run: dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*Network*'
/// </summary>
[MemoryDiagnoser]
[MinColumn]
public class NetworkBenchmarks
{
    private const int Minibatch = 64;

    [Params("3-64-64-1", "24-64-64-4")]
    public string Shape { get; set; } = "3-64-64-1";

    private GaussianPolicy _policy = null!;
    private ValueNetwork _value = null!;
    private float[] _observation = null!;
    private float[] _action = null!;
    private float[] _observations = null!;
    private float[] _actions = null!;
    private float[] _weights = null!;
    private float[] _logProbs = null!;
    private float[] _targets = null!;
    private Prng _prng;

    // The MathNet peer: the same weights in dense float matrices.
    private Matrix<float> _w1 = null!, _w2 = null!, _w3 = null!;
    private Vector<float> _b1 = null!, _b2 = null!, _b3 = null!, _x = null!, _h1 = null!, _h2 = null!, _mu = null!, _std = null!;

    [GlobalSetup]
    public void Setup()
    {
        // MathNet's managed provider parallelises matrix products by default, which only costs at
        // these sizes; single-threaded is its best case here and the fair comparison.
        MathNet.Numerics.Control.UseSingleThread();
        string[] parts = Shape.Split('-');
        int obs = int.Parse(parts[0]), hidden1 = int.Parse(parts[1]), hidden2 = int.Parse(parts[2]), act = int.Parse(parts[3]);
        _policy = new GaussianPolicy(obs, act, [hidden1, hidden2], Minibatch, 1);
        _value = new ValueNetwork(obs, [hidden1, hidden2], Minibatch, 2);
        var prng = new Prng(3);
        _observation = Fill(obs, ref prng);
        _action = new float[act];
        _observations = Fill(Minibatch * obs, ref prng);
        _actions = Fill(Minibatch * act, ref prng);
        _weights = Fill(Minibatch, ref prng);
        _targets = Fill(Minibatch, ref prng);
        _logProbs = new float[Minibatch];
        _prng = new Prng(4);

        Mlp net = _policy.MeanNetwork;
        _w1 = ToMatrix(net.Weights(0), hidden1, obs);
        _w2 = ToMatrix(net.Weights(1), hidden2, hidden1);
        _w3 = ToMatrix(net.Weights(2), act, hidden2);
        _b1 = Vector<float>.Build.DenseOfArray(net.Biases(0).ToArray());
        _b2 = Vector<float>.Build.DenseOfArray(net.Biases(1).ToArray());
        _b3 = Vector<float>.Build.DenseOfArray(net.Biases(2).ToArray());
        _x = Vector<float>.Build.DenseOfArray(_observation);
        _h1 = Vector<float>.Build.Dense(hidden1);
        _h2 = Vector<float>.Build.Dense(hidden2);
        _mu = Vector<float>.Build.Dense(act);
        _std = Vector<float>.Build.Dense(act, i => MathF.Exp(_policy.LogStd[i]));
    }

    private static float[] Fill(int n, ref Prng prng)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)prng.NextGaussian();
        return a;
    }

    private static Matrix<float> ToMatrix(ReadOnlySpan<float> w, int rows, int cols)
    {
        var m = Matrix<float>.Build.Dense(rows, cols);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) m[r, c] = w[r * cols + c];
        return m;
    }

    [Benchmark(Description = "RobotPG forward+sample")]
    public float ForwardSample() => _policy.Sample(_observation, _action, ref _prng);

    [Benchmark(Baseline = true, Description = "MathNet forward+sample (in-place)")]
    public float MathNetForwardSampleInPlace()
    {
        _w1.Multiply(_x, _h1);
        _h1.Add(_b1, _h1);
        _h1.PointwiseTanh(_h1);
        _w2.Multiply(_h1, _h2);
        _h2.Add(_b2, _h2);
        _h2.PointwiseTanh(_h2);
        _w3.Multiply(_h2, _mu);
        _mu.Add(_b3, _mu);
        return SampleFromMean();
    }

    [Benchmark(Description = "MathNet forward+sample (operators)")]
    public float MathNetForwardSampleOperators()
    {
        var h1 = (_w1 * _x + _b1).PointwiseTanh();
        var h2 = (_w2 * h1 + _b2).PointwiseTanh();
        _mu.SetSubVector(0, _mu.Count, _w3 * h2 + _b3);
        return SampleFromMean();
    }

    private float SampleFromMean()
    {
        float logProb = 0f;
        for (int j = 0; j < _mu.Count; j++)
        {
            float eps = (float)_prng.NextGaussian();
            _action[j] = _mu[j] + _std[j] * eps;
            logProb -= 0.5f * eps * eps + MathF.Log(_std[j]) + GaussianPolicy.HalfLogTwoPi;
        }
        return logProb;
    }

    [Benchmark(Description = "actor forward+backward, 64 samples")]
    public void ActorMinibatch()
    {
        _policy.LogProbBatch(_observations, _actions, Minibatch, _logProbs);
        _policy.AccumulateLogProbGradient(_weights, Minibatch);
    }

    [Benchmark(Description = "critic forward+backward, 64 samples")]
    public float CriticMinibatch() => _value.AccumulateSquaredErrorGradient(_observations, _targets, Minibatch);
}
