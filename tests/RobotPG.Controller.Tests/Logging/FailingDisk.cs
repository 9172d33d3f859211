namespace RobotPG.Controller.Tests.Logging;

/// <summary>
/// The log writer's files on a disk that fails when told to: an open that fails (<see cref="FailOpen"/>, by call number
/// and path), a write that fails (<see cref="FailWrite"/>, by path), a full disk (<see cref="Full"/>: every write throws
/// ENOSPC's message). Opens real files otherwise, and counts open calls and the descriptors left open.
/// </summary>
internal sealed class FailingDisk
{
    public Func<int, string, bool> FailOpen = (_, _) => false;
    public Func<string, bool> FailWrite = _ => false;
    public volatile bool Full;
    public int Calls, Open;

    public Stream OpenFile(string path)
    {
        int call = Interlocked.Increment(ref Calls);
        if (FailOpen(call, path)) throw new IOException("No space left on device");
        Interlocked.Increment(ref Open);
        return new Counted(this, path, new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 0));
    }

    private sealed class Counted(FailingDisk disk, string path, FileStream inner) : Stream
    {
        private bool _closed;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush(flushToDisk: true);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (disk.Full) throw new IOException("No space left on device");
            if (disk.FailWrite(path)) throw new IOException("Input/output error");
            inner.Write(buffer);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_closed)
            {
                _closed = true;
                inner.Dispose();
                Interlocked.Decrement(ref disk.Open);
            }
            base.Dispose(disposing);
        }
    }
}
