using BenchmarkDotNet.Attributes;
using RobotPG.Controller.Control;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;

namespace RobotPG.Benchmarks;

/// <summary>
/// One on-device update as the learner thread runs it on the robot: 1024 transitions of the
/// balance-bot (4 → 2, 64-64 policy and critic) taken from the rollout ring, values and advantages,
/// the algorithm's update, the KL/NaN guards and the publication to the loop. The ring is filled by
/// the benchmark itself (1025 record copies, a few µs).
/// Run: dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*LearnerBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class LearnerBenchmarks
{
    private const int Batch = 1024;
    private OnDeviceLearner _learner = null!;
    private TrajectoryRing _ring = null!;
    private PolicyExchange _exchange = null!;
    private readonly float[] _observation = new float[4];
    private readonly float[] _action = new float[2];
    private long _step;

    [Params("ppo", "trpo", "a2c")]
    public string Algorithm { get; set; } = "ppo";

    [GlobalSetup]
    public void Setup()
    {
        var options = new LearningOptions { Algorithm = Algorithm, BatchSteps = Batch, MaxKl = 1e9, Seed = 1 };
        var algorithm = OnDeviceAlgorithms.Create(options, 4, 2, [64, 64], "balance-bot");
        _ring = new TrajectoryRing(4, 2, 4 * Batch);
        _learner = new OnDeviceLearner(algorithm, _ring, options);
        _exchange = new PolicyExchange(_learner.InitialPolicy);
        _learner.Attach(_exchange);
        Update(); // the first update sizes whatever is sized lazily
    }

    [Benchmark]
    public long Update()
    {
        var prng = new RobotPG.Numerics.Prng((ulong)_step + 1);
        for (int t = 0; t <= Batch; t++)
        {
            for (int i = 0; i < 4; i++) _observation[i] = (float)prng.NextGaussian() * 0.1f;
            _action[0] = (float)prng.NextGaussian();
            _action[1] = (float)prng.NextGaussian();
            var flags = t == Batch ? TransitionFlags.Truncated : TransitionFlags.None;
            _ring.TryAppend(_step++, 0, _observation, _action, -1.8f, 1f - _observation[0] * _observation[0], flags);
        }
        _learner.Pump();
        _exchange.AcquireForStep();
        return _learner.Updates;
    }
}
