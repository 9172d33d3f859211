using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace RobotPG.Controller.Hosting;

/// <summary>
/// The sd_notify protocol without libsystemd: one datagram per message ("READY=1", "WATCHDOG=1",
/// "STOPPING=1") to the Unix socket named by $NOTIFY_SOCKET ('@' starts an abstract name). With
/// <c>Type=notify</c> and <c>WatchdogSec=</c> in the unit, systemd kills a controller whose loop stops
/// pinging, and <c>ExecStopPost</c> turns the motors off. The loop thread pings, so a hung loop is what
/// the watchdog sees. Sends allocate nothing (pre-encoded messages on a connected socket); a failed send is
/// counted, never thrown.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private static readonly byte[] Ready = Encoding.ASCII.GetBytes("READY=1");
    private static readonly byte[] Watchdog = Encoding.ASCII.GetBytes("WATCHDOG=1");
    private static readonly byte[] Stopping = Encoding.ASCII.GetBytes("STOPPING=1");

    private readonly Socket _socket;
    private readonly long _pingEverySteps;
    private long _failures;

    private SystemdNotifier(Socket socket, long pingEverySteps)
    {
        _socket = socket;
        _pingEverySteps = pingEverySteps;
    }

    /// <summary>Watchdog pings every this many control steps (half of WatchdogSec).</summary>
    public long PingEverySteps => _pingEverySteps;

    /// <summary>Datagrams that could not be sent.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// From the service environment: null when $NOTIFY_SOCKET is unset (not under systemd, or Type=simple).
    /// The ping period is half of $WATCHDOG_USEC (systemd's advice), in control steps at <paramref name="controlRateHz"/>;
    /// without a watchdog only READY/STOPPING are sent.
    /// </summary>
    public static SystemdNotifier? FromEnvironment(double controlRateHz) =>
        Create(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"), Environment.GetEnvironmentVariable("WATCHDOG_USEC"), controlRateHz);

    public static SystemdNotifier? Create(string? notifySocket, string? watchdogUsec, double controlRateHz)
    {
        if (string.IsNullOrEmpty(notifySocket)) return null;
        string path = notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket;
        long every = long.MaxValue;
        if (long.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out long usec) && usec > 0)
            every = Math.Max(1, (long)(usec / 2e6 * controlRateHz));
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            socket.Dispose();
            throw;
        }
        return new SystemdNotifier(socket, every);
    }

    public void NotifyReady() => Send(Ready);

    public void NotifyStopping() => Send(Stopping);

    /// <summary>Loop thread, after step <paramref name="stepsDone"/>: READY=1 after the first step, then WATCHDOG=1 every <see cref="PingEverySteps"/>.</summary>
    public void AfterStep(long stepsDone)
    {
        if (stepsDone == 1) Send(Ready);
        if (stepsDone % _pingEverySteps == 0) Send(Watchdog);
    }

    private void Send(byte[] message)
    {
        try
        {
            _socket.Send(message);
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref _failures);
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Increment(ref _failures);
        }
    }

    public void Dispose() => _socket.Dispose();
}
