using BenchmarkDotNet.Attributes;
using RobotPG.Controller.Logging;

namespace RobotPG.Benchmarks;

/// <summary>
/// The disk cost of the log's fsync policy: the writer thread's file work for 1000 balance-bot records
/// (5 s at 200 Hz, one record per write as the writer drains them at that rate), fsynced every
/// log.syncEveryRecords records: 0 (rotation/stop only), 200 (the default: once a second) or 50.
/// The control loop never waits for it (it only appends to the ring).
/// </summary>
[MemoryDiagnoser]
public class LogSyncBenchmarks
{
    private const int Records = 1000;
    private readonly byte[] _record = new byte[TrajectoryLogFormat.RecordSize(4, 2)];
    private FileStream _file = null!;
    private string _path = null!;

    [Params(0, 200, 50)]
    public int SyncEveryRecords { get; set; }

    [IterationSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), "robotpg-bench-sync-" + Guid.NewGuid().ToString("N"));
        _file = new FileStream(_path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);
    }

    [Benchmark]
    public void ThousandRecords()
    {
        for (int i = 0; i < Records; i++)
        {
            _record[0] = (byte)i;
            _file.Write(_record);
            if (SyncEveryRecords > 0 && (i + 1) % SyncEveryRecords == 0) _file.Flush(flushToDisk: true);
        }
    }

    [IterationCleanup]
    public void Cleanup()
    {
        _file.Dispose();
        File.Delete(_path);
    }
}
