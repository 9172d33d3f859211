using RobotPG.Controller.Logging;

namespace RobotPG.Controller.Tests.Faults;

/// <summary>
/// A disk for the trajectory log whose cache dies with the power: bytes become durable only at the writer's
/// fsync (<see cref="Stream.Flush()"/> on a non-file stream). It can be full (every write throws ENOSPC's
/// message) or read-only (opening a file throws EROFS's).
/// </summary>
internal sealed class FaultDisk
{
    public readonly Dictionary<string, MemoryStream> Durable = [];
    public volatile bool Full;
    public volatile bool ReadOnly;

    public Stream OpenFile(string path)
    {
        if (ReadOnly) throw new UnauthorizedAccessException("Read-only file system");
        var durable = new MemoryStream();
        lock (Durable) Durable[path] = durable;
        return new Cached(this, durable);
    }

    /// <summary>The power cut: the durable bytes of each file, oldest first, written to real files in
    /// <paramref name="directory"/> to be read back.</summary>
    public IReadOnlyList<string> Cut(string directory)
    {
        var files = new List<string>();
        lock (Durable)
        {
            foreach (var (path, bytes) in Durable.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                string copy = Path.Combine(directory, Path.GetFileName(path));
                lock (bytes) File.WriteAllBytes(copy, bytes.ToArray());
                files.Add(copy);
            }
        }
        return files;
    }

    /// <summary>The steps of every complete record that is durable, file by file, oldest first.</summary>
    public List<long> DurableSteps(string scratchDirectory)
    {
        var steps = new List<long>();
        foreach (string file in Cut(scratchDirectory))
        {
            if (new FileInfo(file).Length == 0) continue;
            using var reader = TrajectoryLogReader.Open(file);
            while (reader.TryReadNext(out var record)) steps.Add(record.Step);
        }
        return steps;
    }

    private sealed class Cached(FaultDisk disk, MemoryStream durable) : Stream
    {
        private readonly MemoryStream _cache = new();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => durable.Length + _cache.Length;
        public override long Position { get => Length; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (disk.ReadOnly) throw new IOException("Read-only file system");
            if (disk.Full) throw new IOException("No space left on device");
            _cache.Write(buffer);
        }

        public override void Flush()
        {
            lock (durable)
            {
                _cache.WriteTo(durable);
                _cache.SetLength(0);
            }
        }

        // A close is not a power cut: what was written reaches the disk later without an fsync.
        protected override void Dispose(bool disposing)
        {
            if (disposing) Flush();
            base.Dispose(disposing);
        }
    }
}
