using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;

namespace RobotPG.Controller.Logging;

/// <summary>
/// Drains a <see cref="TrajectoryRing"/> into append-only log files on its own thread, stamping
/// each record's CRC32 and starting a new file (new header, next file index) before a file would
/// exceed the rotation size. Disk errors are counted, never thrown at the control loop; records
/// taken while the disk fails are lost and counted. Learning updates handed over with
/// <see cref="AppendUpdate"/> go to the current file's <see cref="LearningUpdateLogFormat"/> file, synced with it.
/// </summary>
public sealed class TrajectoryLogWriter : IDisposable
{
    private const int BatchRecords = 256;

    private readonly TrajectoryRing _ring;
    private readonly string _directory;
    private readonly long _rotateBytes;
    private readonly string _robotId;
    private readonly ulong _policyHash;
    private readonly DateTimeOffset _startTime;
    private readonly string _task;
    private readonly Thread _thread;
    private readonly byte[] _batch;
    private readonly object _flushGate = new();
    private readonly List<string> _files = [];
    private readonly LogSyncPolicy _sync;
    private readonly Func<string, Stream> _openFile;
    private Stream? _file;
    private long _unsyncedRecords;
    private long _lastSyncTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    private long _syncs;
    private long _fileLength;
    private int _fileIndex = -1;
    private long _flushRequested;
    private long _flushCompleted;
    private volatile bool _stopping;
    private long _recordsWritten;
    private long _recordsLost;
    private long _writeErrors;
    private string? _lastError;
    private readonly LearningUpdateRecord[] _updates = new LearningUpdateRecord[64];
    private readonly byte[] _updateBytes = new byte[LearningUpdateLogFormat.RecordSize];
    private long _updateHead, _updateTail, _updatesWritten, _updatesLost;
    private Stream? _updateFile;
    private string? _currentPath;
    private bool _updatesUnsynced;

    /// <param name="task">The task's name for the header (names the observation columns on export); "" if unknown.</param>
    /// <param name="sync">When records are fsynced besides rotation, flush and stop (default: never, <see cref="LogSyncPolicy.None"/>).</param>
    /// <param name="openFile">
    /// Opens a new log file (default: a <see cref="FileStream"/> on disk). Tests put a fault layer here (disk full,
    /// a power cut that drops what was not synced); "sync" is <see cref="FileStream.Flush(bool)"/> for a file
    /// stream, <see cref="Stream.Flush"/> otherwise.
    /// </param>
    public TrajectoryLogWriter(
        TrajectoryRing ring, string directory, long rotateBytes, string robotId, ulong policyHash, DateTimeOffset startTime,
        LogSyncPolicy? sync = null, Func<string, Stream>? openFile = null, string task = "")
    {
        _task = task;
        _sync = sync ?? LogSyncPolicy.None;
        _openFile = openFile ?? OpenOnDisk;
        _ring = ring;
        _directory = directory;
        _rotateBytes = rotateBytes;
        _robotId = robotId;
        _policyHash = policyHash;
        _startTime = startTime;
        if (rotateBytes < TrajectoryLogFormat.HeaderSize + ring.RecordSize)
            throw new ArgumentOutOfRangeException(nameof(rotateBytes), rotateBytes, "a log file must hold the header and one record");
        _batch = new byte[BatchRecords * ring.RecordSize];
        Directory.CreateDirectory(directory);
        _thread = new Thread(Run) { IsBackground = true, Name = "robotpg-log", Priority = ThreadPriority.BelowNormal };
        _thread.Start();
    }

    /// <summary>Records on disk (handed to the OS) so far.</summary>
    public long RecordsWritten => Interlocked.Read(ref _recordsWritten);

    /// <summary>fsyncs made so far (policy, rotation, flush and stop).</summary>
    public long Syncs => Interlocked.Read(ref _syncs);

    /// <summary>Records taken from the ring but lost to a disk error.</summary>
    public long RecordsLost => Interlocked.Read(ref _recordsLost);

    public long WriteErrors => Interlocked.Read(ref _writeErrors);

    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Learning update records on disk (handed to the OS) so far.</summary>
    public long UpdatesWritten => Interlocked.Read(ref _updatesWritten);

    /// <summary>Learning update records lost: the hand-over was full, or the disk failed.</summary>
    public long UpdatesLost => Interlocked.Read(ref _updatesLost);

    /// <summary>
    /// Any thread (the learner's): queues a learning update for the current log file's update file. Never
    /// waits on the disk; when 64 are already waiting it is dropped and counted in <see cref="UpdatesLost"/>.
    /// </summary>
    public void AppendUpdate(in LearningUpdateRecord update)
    {
        lock (_updates)
        {
            if (_updateHead - _updateTail == _updates.Length)
            {
                Interlocked.Increment(ref _updatesLost);
                return;
            }
            _updates[_updateHead++ % _updates.Length] = update;
        }
    }

    private bool UpdatesPending
    {
        get
        {
            lock (_updates) return _updateHead != _updateTail;
        }
    }

    private bool TryTakeUpdate(out LearningUpdateRecord update)
    {
        lock (_updates)
        {
            if (_updateHead == _updateTail)
            {
                update = default;
                return false;
            }
            update = _updates[_updateTail++ % _updates.Length];
            return true;
        }
    }

    /// <summary>Log files started so far, oldest first.</summary>
    public IReadOnlyList<string> Files
    {
        get
        {
            lock (_files)
                return _files.ToArray();
        }
    }

    /// <summary>
    /// Waits until every record appended before the call is written and fsynced (not for the
    /// control thread: it blocks). False if the writer did not get there within the timeout.
    /// </summary>
    public bool Flush(TimeSpan timeout)
    {
        lock (_flushGate)
        {
            long ticket = ++_flushRequested;
            var deadline = DateTime.UtcNow + timeout;
            while (_flushCompleted < ticket)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !_thread.IsAlive)
                    return false;
                Monitor.Wait(_flushGate, left);
            }
            return true;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        _file?.Dispose();
        _file = null;
        _updateFile?.Dispose();
        _updateFile = null;
    }

    private void Run()
    {
        while (true)
        {
            bool stopping = _stopping;
            int drained = Drain();
            // After the records: an update's time is that of a record the learner took, already in the ring before it.
            drained += DrainUpdates();
            long requested;
            lock (_flushGate)
                requested = _flushRequested;
            // Updates without a log file to go with (no record was ever written) do not hold a flush or the stop up.
            bool updatesDone = _currentPath is null || !UpdatesPending;
            if (requested > _flushCompleted && _ring.Count == 0 && updatesDone)
                CompleteFlush(requested);
            if (stopping && _ring.Count == 0 && updatesDone)
            {
                SyncToDisk();
                lock (_flushGate)
                {
                    _flushCompleted = _flushRequested;
                    Monitor.PulseAll(_flushGate);
                }
                return;
            }
            if (drained == 0)
                Thread.Sleep(2); // the loop never signals us (that would cost it a syscall); a short poll is enough
        }
    }

    private int Drain()
    {
        int total = 0;
        int size = _ring.RecordSize;
        int crcOffset = TrajectoryLogFormat.CrcOffset(_ring.ObservationSize, _ring.ActionSize);
        while (true)
        {
            int n = 0;
            while (n < BatchRecords)
            {
                var record = _batch.AsSpan(n * size, size);
                if (!_ring.TryTake(record))
                    break;
                BinaryPrimitives.WriteUInt32LittleEndian(record[crcOffset..], Crc32.HashToUInt32(record[..crcOffset]));
                n++;
            }
            if (n == 0)
                return total;
            WriteRecords(n);
            total += n;
            _unsyncedRecords += n;
            if (_sync.Due(_unsyncedRecords, System.Diagnostics.Stopwatch.GetElapsedTime(_lastSyncTimestamp)))
                SyncToDisk();
        }
    }

    private void WriteRecords(int count)
    {
        int size = _ring.RecordSize;
        int done = 0;
        try
        {
            while (done < count)
            {
                if (_file is null || _fileLength + size > _rotateBytes)
                    StartFile();
                int fit = (int)Math.Min(count - done, (_rotateBytes - _fileLength) / size);
                _file!.Write(_batch, done * size, fit * size);
                _fileLength += (long)fit * size;
                done += fit;
                Interlocked.Add(ref _recordsWritten, fit);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _writeErrors);
            Interlocked.Add(ref _recordsLost, count - done);
            Volatile.Write(ref _lastError, e.Message);
            _file?.Dispose();
            _file = null;
        }
    }

    private int DrainUpdates()
    {
        int n = 0;
        // Updates wait for the first log file (the learner's first update comes a batch after the first record).
        while (_currentPath is not null && TryTakeUpdate(out var update))
        {
            n++;
            try
            {
                if (_updateFile is null)
                {
                    string path = LearningUpdateLogFormat.PathFor(_currentPath);
                    var file = _openFile(path);
                    LearningUpdateLogFormat.WriteHeader(_updateBytes);
                    try
                    {
                        file.Write(_updateBytes, 0, LearningUpdateLogFormat.HeaderSize);
                    }
                    catch
                    {
                        // As for a log file: no header-less stub, so the next update (once the disk has room) can create it.
                        file.Dispose();
                        try { File.Delete(path); }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                        throw;
                    }
                    _updateFile = file;
                }
                LearningUpdateLogFormat.Encode(update, _updateBytes);
                _updateFile.Write(_updateBytes);
                _updatesUnsynced = true;
                Interlocked.Increment(ref _updatesWritten);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Interlocked.Increment(ref _writeErrors);
                Interlocked.Increment(ref _updatesLost);
                Volatile.Write(ref _lastError, e.Message);
                _updateFile?.Dispose();
                _updateFile = null;
            }
        }
        return n;
    }

    private static Stream OpenOnDisk(string path) =>
        new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);

    private void StartFile()
    {
        if (_file is not null)
        {
            var previous = _file;
            _file = null;
            try { Sync(previous); }
            finally { previous.Dispose(); }
        }
        if (_updateFile is not null)
        {
            // The next file's updates go to the next file's update file.
            var previous = _updateFile;
            _updateFile = null;
            try { SyncUpdates(previous); }
            finally { previous.Dispose(); }
        }
        string name = string.Create(CultureInfo.InvariantCulture, $"{_robotId}-{_startTime.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}-{_fileIndex + 1:D4}{TrajectoryLogFormat.FileExtension}");
        string path = Path.Combine(_directory, name);
        var file = _openFile(path);
        try
        {
            Span<byte> header = stackalloc byte[TrajectoryLogFormat.HeaderSize];
            TrajectoryLogFormat.WriteHeader(new TrajectoryLogHeader(_ring.ObservationSize, _ring.ActionSize, _robotId, _policyHash, _startTime, _fileIndex + 1, _task), header);
            file.Write(header);
        }
        catch
        {
            // Disk full (or gone) before the header was down: close the descriptor and remove the stub,
            // so each retry reuses this name instead of leaking one file and one descriptor.
            file.Dispose();
            try { File.Delete(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
        _fileIndex++;
        _file = file;
        _currentPath = path;
        _fileLength = TrajectoryLogFormat.HeaderSize;
        lock (_files)
            _files.Add(path);
    }

    private void Sync(Stream file)
    {
        if (file is FileStream fs) fs.Flush(flushToDisk: true);
        else file.Flush();
        Interlocked.Increment(ref _syncs);
        _unsyncedRecords = 0;
        _lastSyncTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    private void SyncUpdates(Stream file)
    {
        if (!_updatesUnsynced) return;
        if (file is FileStream fs) fs.Flush(flushToDisk: true);
        else file.Flush();
        _updatesUnsynced = false;
    }

    private void SyncToDisk()
    {
        try
        {
            if (_file is { } file) Sync(file);
            if (_updateFile is { } updates) SyncUpdates(updates);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _writeErrors);
            Volatile.Write(ref _lastError, e.Message);
        }
    }

    private void CompleteFlush(long ticket)
    {
        SyncToDisk();
        lock (_flushGate)
        {
            _flushCompleted = ticket;
            Monitor.PulseAll(_flushGate);
        }
    }
}

/// <summary>
/// When the log writer fsyncs besides rotation and <see cref="TrajectoryLogWriter.Flush"/>: after
/// <see cref="EveryRecords"/> records or once <see cref="EveryMilliseconds"/> have passed since the last
/// sync, whichever comes first (0 turns a rule off). What a power cut can take is what was written since.
/// </summary>
public sealed record LogSyncPolicy(int EveryRecords, int EveryMilliseconds)
{
    public static LogSyncPolicy None { get; } = new(0, 0);

    public bool Due(long unsyncedRecords, TimeSpan sinceLastSync) =>
        unsyncedRecords > 0
        && ((EveryRecords > 0 && unsyncedRecords >= EveryRecords)
            || (EveryMilliseconds > 0 && sinceLastSync.TotalMilliseconds >= EveryMilliseconds));
}
