using System.Net.Sockets;
using System.Text;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Tasks;
using RobotPG.Controller.Tests.Control;

namespace RobotPG.Controller.Tests.Deploy;

/// <summary>The sd_notify datagrams the control loop sends, received on a socket the test opens (as systemd would).</summary>
public sealed class SystemdNotifierTests
{
    private sealed class NoWaitClock : IStepClock
    {
        public long WaitUntil(long deadline) => deadline;
    }

    private static List<string> Receive(Socket server)
    {
        var messages = new List<string>();
        var buffer = new byte[256];
        while (server.Available > 0)
        {
            int n = server.Receive(buffer);
            messages.Add(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return messages;
    }

    private static List<string> RunLoop(string notifySocket, Socket server, long steps)
    {
        // WATCHDOG_USEC 100 ms at 200 Hz: a ping every 50 ms = every 10 steps.
        using var notifier = SystemdNotifier.Create(notifySocket, "100000", 200)!;
        Assert.Equal(10, notifier.PingEverySteps);
        var config = LoopFixture.Config;
        var loop = new ControlLoop(new FakeRobotIo(), ControlTasks.Create(config), new PolicyExchange(ControlPolicy.Zero(4, 2)),
            new SafetySupervisor(config.Safety, 200, 2), 200, config.Task.MaxEpisodeSteps, seed: 1, clock: new NoWaitClock())
        { Notifier = notifier };
        loop.Run(maxSteps: steps, warmupSteps: 1000);
        Assert.Equal(0, notifier.Failures);
        return Receive(server);
    }

    [Fact]
    public void Loop_sends_ready_after_its_first_step_then_a_watchdog_ping_every_half_period_and_stopping()
    {
        string name = "robotpg-test-" + Guid.NewGuid().ToString("N");
        using var server = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint("\0" + name)); // an abstract socket, as systemd uses

        var messages = RunLoop("@" + name, server, 35);

        Assert.Equal(["READY=1", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"], messages);
    }

    [Fact]
    public void A_socket_path_works_too_and_no_notify_socket_means_no_notifier()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "notify");
        using var server = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        server.Bind(new UnixDomainSocketEndPoint(path));

        var messages = RunLoop(path, server, 20);

        Assert.Equal(["READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"], messages);
        Assert.Null(SystemdNotifier.Create(null, "100000", 200));
        Assert.Null(SystemdNotifier.Create("", null, 200));
    }

    [Fact]
    public void Shipped_unit_is_type_notify_with_a_watchdog_and_motors_off_after_stop()
    {
        string[] unit = File.ReadAllLines(RepoPaths.FirmwareConfig("robotpg.service"));
        Assert.Contains("Type=notify", unit);
        Assert.Contains("NotifyAccess=main", unit);
        Assert.Contains(unit, l => l.StartsWith("WatchdogSec=", StringComparison.Ordinal));
        Assert.Contains(unit, l => l.StartsWith("ExecStopPost=", StringComparison.Ordinal) && l.Contains("motors-off", StringComparison.Ordinal));
    }
}
