using BenchmarkDotNet.Attributes;
using RobotPG.Controller.Logging;

namespace RobotPG.Benchmarks;

/// <summary>
/// The cost of the log's fsync policy: 1000 balance-bot records (5 s at 200 Hz) appended and drained to a
/// file, under log.syncEveryRecords 0 (rotation/stop only), 200 (the default: once a second at 200 Hz) and 50.
/// The writer's thread does the work; the figure is what the disk costs per 1000 records, the loop never waits.
/// </summary>
[MemoryDiagnoser]
public class LogSyncBenchmarks
{
    private const int Records = 1000;
    private TrajectoryRing _ring = null!;
    private TrajectoryLogWriter _writer = null!;
    private string _directory = null!;
    private readonly float[] _obs = new float[4];
    private readonly float[] _act = new float[2];
    private long _step;

    [Params(0, 200, 50)]
    public int SyncEveryRecords { get; set; }

    [IterationSetup]
    public void Setup()
    {
        _ring = new TrajectoryRing(4, 2, 2 * Records);
        _directory = Path.Combine(Path.GetTempPath(), "robotpg-bench-sync-" + Guid.NewGuid().ToString("N"));
        _writer = new TrajectoryLogWriter(_ring, _directory, 1L << 32, "bench", 1, DateTimeOffset.UtcNow, new LogSyncPolicy(SyncEveryRecords, 0));
    }

    [Benchmark]
    public long ThousandRecordsDrained()
    {
        for (int i = 0; i < Records; i++)
        {
            _obs[0] = i;
            _ring.TryAppend(_step++, _step * 5_000_000, _obs, _act, 0, 1, TransitionFlags.None);
            // One record per writer batch, as at 200 Hz, so the policy is judged per record.
            if ((i & 15) == 15) SpinWait.SpinUntil(() => _ring.Count == 0);
        }
        SpinWait.SpinUntil(() => _ring.Count == 0);
        while (_writer.RecordsWritten < _step) Thread.Yield();
        return _writer.Syncs;
    }

    [IterationCleanup]
    public void Cleanup()
    {
        _writer.Dispose();
        _step = 0;
        Directory.Delete(_directory, recursive: true);
    }
}
