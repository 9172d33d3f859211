using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RobotPG.Messaging.Tests;

/// <summary>A real mosquitto on a free 127.0.0.1 port (Debian's, installed by .ci/run), anonymous; killed on dispose.</summary>
internal sealed class MosquittoProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _configPath;
    private readonly StringBuilder _log = new();

    private MosquittoProcess(Process process, string configPath, int port)
    {
        _process = process;
        _configPath = configPath;
        Port = port;
    }

    public int Port { get; }

    /// <summary>What mosquitto logged so far (the output readers append on their own threads: read under the lock).</summary>
    public string Log()
    {
        lock (_log) return _log.ToString();
    }

    public static MosquittoProcess Start(TimeSpan timeout)
    {
        string executable = new[] { "/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/local/bin/mosquitto" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("mosquitto is not installed: apt-get install -y mosquitto (.ci/run does)");
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        string configPath = Path.Combine(Path.GetTempPath(), $"robotpg-framelink-mosquitto-{port}-{Guid.NewGuid():N}.conf");
        File.WriteAllText(configPath, $"listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type all\n");
        var process = new Process
        {
            StartInfo = new ProcessStartInfo(executable, ["-c", configPath]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false },
        };
        var broker = new MosquittoProcess(process, configPath, port);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null) return;
            lock (broker._log) broker._log.AppendLine(e.Data);
            if (e.Data.Contains(" running", StringComparison.Ordinal)) ready.TrySetResult();
        };
        process.ErrorDataReceived += onLine;
        process.OutputDataReceived += onLine;
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        if (!ready.Task.Wait(timeout))
        {
            broker.Dispose();
            throw new TimeoutException($"mosquitto did not start on port {port}: {broker.Log()}");
        }
        return broker;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _process.Dispose();
        File.Delete(_configPath);
    }
}
