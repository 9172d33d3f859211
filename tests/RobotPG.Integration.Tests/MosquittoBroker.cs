using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace RobotPG.Integration.Tests;

/// <summary>
/// A real mosquitto on a free 127.0.0.1 port for interop tests (Debian's mosquitto, installed by
/// .ci/run). Ready once mosquitto logs that it is running; killed on dispose.
/// </summary>
internal sealed class MosquittoBroker : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _configPath;

    private MosquittoBroker(Process process, string configPath, int port)
    {
        _process = process;
        _configPath = configPath;
        Port = port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    /// <summary>Kills the broker at once, as a crash would (no clean disconnects, wills are not sent by a dead broker).</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public static string? FindExecutable(string name)
    {
        foreach (var dir in new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin" })
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    public static Task<MosquittoBroker> StartAsync(TimeSpan timeout) => StartAsync(timeout, "allow_anonymous true\n");

    /// <summary>
    /// Starts mosquitto with a listener on 127.0.0.1:<paramref name="port"/> (0: a free one) followed by
    /// <paramref name="settings"/> (TLS files, password file, ACL, ...).
    /// </summary>
    public static Task<MosquittoBroker> StartAsync(TimeSpan timeout, string settings, int port = 0) =>
        StartWithConfigAsync(timeout, p => $"listener {p} 127.0.0.1\n{settings}", port);

    /// <summary>Starts mosquitto with the whole configuration <paramref name="config"/> makes for the port (0: a free one), logging to stderr.</summary>
    public static async Task<MosquittoBroker> StartWithConfigAsync(TimeSpan timeout, Func<int, string> config, int port = 0)
    {
        string executable = FindExecutable("mosquitto")
            ?? throw new InvalidOperationException("mosquitto is not installed: apt-get install -y mosquitto mosquitto-clients (.ci/run does)");
        if (port == 0) port = FreePort();
        string configPath = Path.Combine(Path.GetTempPath(), $"robotpg-mosquitto-{port}-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(configPath, $"{config(port)}\nlog_dest stderr\nlog_type all\n");
        var info = new ProcessStartInfo(executable, ["-c", configPath]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Text.StringBuilder();
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null) return;
            lock (log) log.AppendLine(e.Data);
            if (e.Data.Contains("Opening ipv4 listen socket", StringComparison.Ordinal) || e.Data.Contains(" running", StringComparison.Ordinal)) ready.TrySetResult();
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        // The output readers append while this runs (it fires at every exit, the broker's disposal included): read the
        // log under its lock, or a ToString racing an AppendLine throws on a thread-pool thread and kills the test host.
        string Log()
        {
            lock (log) return log.ToString();
        }
        process.Exited += (_, _) =>
        {
            if (!ready.Task.IsCompleted) ready.TrySetException(new InvalidOperationException($"mosquitto exited early: {Log()}"));
        };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var broker = new MosquittoBroker(process, configPath, port);
        if (await Task.WhenAny(ready.Task, Task.Delay(timeout)) != ready.Task)
        {
            await broker.DisposeAsync();
            throw new TimeoutException($"mosquitto did not start on port {port}: {Log()}");
        }
        await ready.Task;
        return broker;
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        File.Delete(_configPath);
    }
}
