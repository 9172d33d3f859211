using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;
using RobotPG.Messaging;
using RobotPG.Sim.Serving;

namespace RobotPG.Benchmarks;

/// <summary>
/// The real controller in lockstep against the simulator: <see cref="ControllerHost"/> (what <c>robotpg run</c>
/// starts: sim bus, drivers, task, policy, safety, trajectory log on disk, telemetry off) with the shipped
/// balance-bot sim config, against an in-process <see cref="SimulationServer"/> on its embedded broker, and
/// through mosquitto. Steady state: the host and its first steps run in the setup; each operation is one
/// control step on the loop's own count (<see cref="Controller.Control.ControlLoop.StepCount"/>). Compare with
/// <see cref="SimBenchmarks"/> (a controller stub that answers on the MQTT receive thread). Run:
/// <c>dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*LockstepController*' --job short --iterationCount 15 --inProcess</c>.
/// </summary>
[MemoryDiagnoser]
public class LockstepControllerBenchmarks
{
    private const int StepsPerInvoke = 4000;

    private SimulationServer? _server;
    private ControllerHost? _host;
    private Process? _mosquitto;
    private string _work = "";

    /// <summary>
    /// log.syncEveryRecords: 200 is the shipped default (an fsync every 200 records; in lockstep the loop waits
    /// for the log rather than lose records, so the disk's fsync time can bound the rate), 0 leaves only the
    /// once-a-second fsync.
    /// </summary>
    [Params(200, 0)]
    public int LogSyncEveryRecords { get; set; }

    private static string RepoRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("RobotPG.sln not found above " + here);
    }

    private void StartController(int port)
    {
        _work = Path.Combine(Path.GetTempPath(), "robotpg-bench-controller-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_work);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(RepoRoot(), "firmware-config", "balance-bot.sim.json")))!.AsObject();
        json.Remove("$schema");
        json["bus"]!["broker"] = $"mqtt://127.0.0.1:{port}";
        json["log"]!["directory"] = Path.Combine(_work, "logs");
        json["log"]!["syncEveryRecords"] = LogSyncEveryRecords;
        json["telemetry"]!["enabled"] = false;
        string file = Path.Combine(_work, "robot.json");
        File.WriteAllText(file, json.ToJsonString());
        var loaded = ConfigLoader.Load(file);
        if (!loaded.Ok) throw new InvalidOperationException(string.Join("; ", loaded.Errors.Select(e => e.ToString())));
        _host = ControllerHost.Start(loaded.Config!, _work, null, null, TextWriter.Null);
        Steps(2000); // JIT, the first log file, the sim's first episodes
    }

    [GlobalSetup(Target = nameof(ControllerStepEmbeddedBroker))]
    public void SetupEmbedded()
    {
        _server = SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", Seed = 1, Clock = SimClockMode.Lockstep, PublishTruth = false,
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
        }).GetAwaiter().GetResult();
        StartController(_server.BrokerPort);
    }

    /// <summary>One lockstep control step of the real controller, simulator on its embedded broker.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public long ControllerStepEmbeddedBroker() => Steps(StepsPerInvoke);

    [GlobalSetup(Target = nameof(ControllerStepMosquitto))]
    public void SetupMosquitto()
    {
        _mosquitto = BenchMosquitto.Start(out int port);
        // The sim's client retries with backoff until mosquitto listens.
        _server = SimulationServer.StartAsync(new SimulationServerOptions
        {
            Robot = "balance-bot", Seed = 1, Clock = SimClockMode.Lockstep, PublishTruth = false,
            Broker = new MqttEndpoint("127.0.0.1", port, "bench-sim"),
            PhysicsDirectory = Path.Combine(RepoRoot(), "firmware-config", "robots"),
        }).GetAwaiter().GetResult();
        StartController(port);
    }

    /// <summary>The same through mosquitto.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public long ControllerStepMosquitto() => Steps(StepsPerInvoke);

    /// <summary>Waits until the loop has run <paramref name="count"/> more steps (a 1 ms poll: ≤ 0.2 % of an operation).</summary>
    private long Steps(int count)
    {
        var loop = _host!.Loop;
        long target = loop.StepCount + count;
        long deadline = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
        while (loop.StepCount < target)
        {
            if (loop.FatalCause is not null || Stopwatch.GetTimestamp() > deadline)
                throw new InvalidOperationException($"lockstep stalled at step {loop.StepCount} ({loop.FatalDescription ?? "no fault"})");
            Thread.Sleep(1);
        }
        return loop.StepCount;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var host = _host;
        _host = null;
        if (host is not null)
        {
            host.RequestStop();
            host.WaitForExit();
            Console.WriteLine($"// controller: {host.Loop.StepCount} steps, {host.LogWriter.RecordsWritten} records logged, {host.Loop.Counters.LogDrops} dropped, " +
                $"{host.Loop.LogHolds} ms held for the log ({host.LogWriter.Syncs} fsyncs), " +
                $"{host.Loop.Counters.MissedPeriods} missed periods, {host.Loop.Safety.Events(Controller.Control.SafetyCause.StaleSensor)} stale-sensor trips");
            host.Dispose();
        }
        _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server = null;
        BenchMosquitto.Stop(_mosquitto);
        _mosquitto = null;
        try
        {
            if (_work.Length > 0) Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // left for the temp cleaner
        }
    }
}
