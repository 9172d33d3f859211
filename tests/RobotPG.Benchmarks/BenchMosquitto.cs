using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RobotPG.Benchmarks;

/// <summary>A throwaway mosquitto on a free loopback port for the lockstep benchmarks, and its teardown.</summary>
internal static class BenchMosquitto
{
    public static Process Start(out int port)
    {
        port = FreePort();
        string config = Path.Combine(Path.GetTempPath(), $"robotpg-bench-mosquitto-{port}.conf");
        File.WriteAllText(config, $"listener {port} 127.0.0.1\nallow_anonymous true\n");
        return Process.Start(new ProcessStartInfo("mosquitto", ["-c", config]) { UseShellExecute = false, RedirectStandardError = true })
            ?? throw new InvalidOperationException("mosquitto did not start (apt-get install mosquitto)");
    }

    public static void Stop(Process? mosquitto)
    {
        if (mosquitto is { HasExited: false })
        {
            mosquitto.Kill();
            mosquitto.WaitForExit();
        }
        mosquitto?.Dispose();
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
