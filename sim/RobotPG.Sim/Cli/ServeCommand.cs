using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using RobotPG.Messaging;
using RobotPG.Sim.Devices;
using RobotPG.Sim.Robots;
using RobotPG.Sim.Serving;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim serve --robot balance-bot --broker embedded|mqtt://host:port --port N
/// --clock lockstep|realtime --seed N --robot-id ID</c>: the simulated robot as an MQTT peer until
/// Ctrl+C / SIGTERM, with one status line per second.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var robot = new Option<string>("--robot") { Description = $"Robot to simulate: {string.Join(", ", RobotPhysicsConfigLoader.KnownRobots)}.", DefaultValueFactory = _ => "balance-bot" };
        var broker = new Option<string>("--broker") { Description = "\"embedded\" (host MQTTnet's broker on 127.0.0.1 and ::1) or mqtt://host:port or mqtts://host:port.", DefaultValueFactory = _ => "embedded" };
        var port = new Option<string>("--port") { Description = "Port of the embedded broker (0 = any free port).", DefaultValueFactory = _ => "1883" };
        var clock = new Option<string>("--clock") { Description = "lockstep (deterministic: one tick per actuator frame) or realtime (wall clock).", DefaultValueFactory = _ => "lockstep" };
        var seed = new Option<string>("--seed") { Description = "Seed of initial states, sensor noise and randomisation.", DefaultValueFactory = _ => "1" };
        var robotId = new Option<string?>("--robot-id") { Description = "The {robotId} of the MQTT topics (default: the robot name)." };
        var latency = new Option<string>("--latency-ms") { Description = "Realtime: actuation latency in milliseconds.", DefaultValueFactory = _ => "0" };
        var noise = new Option<string>("--noise") { Description = "Scale of the physics file's IMU noise (0 = perfect sensor).", DefaultValueFactory = _ => "1" };
        var randomize = new Option<bool>("--randomize") { Description = "Domain randomisation: new masses, friction and motor constants at every reset." };
        var noTruth = new Option<bool>("--no-truth") { Description = "Do not publish the ground truth on robotpg/{id}/truth." };
        var controlRate = new Option<string?>("--control-rate") { Description = "Control ticks per second (default: the physics file's; must equal the controller's controlRateHz)." };
        var physicsDir = new Option<string?>("--physics-dir") { Description = "Folder of <robot>.physics.json (default: robots/ next to the executable)." };
        var faults = new Option<string[]>("--fault")
        {
            Description = "Switch a fault on in the emulated chips (repeatable): " + SimFault.Grammar + ".",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("serve", "Serve a simulated robot over MQTT, emulated down to its device registers.");
        foreach (Option o in new Option[] { robot, broker, port, clock, seed, robotId, latency, noise, randomize, noTruth, controlRate, physicsDir, faults }) command.Options.Add(o);
        var connection = new BrokerConnectionOptions();
        connection.AddTo(command);
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            if (!TryBuildOptions(parseResult.GetValue(robot), parseResult.GetValue(broker), parseResult.GetValue(port), parseResult.GetValue(clock),
                    parseResult.GetValue(seed), parseResult.GetValue(robotId), parseResult.GetValue(latency), parseResult.GetValue(noise),
                    parseResult.GetValue(randomize), !parseResult.GetValue(noTruth), parseResult.GetValue(controlRate), parseResult.GetValue(physicsDir),
                    out var options, out string? problem))
            {
                error.WriteLine($"robotpg-sim serve: {problem}");
                return 2;
            }
            var injected = TryParseFaults(parseResult.GetValue(faults), out problem);
            if (injected is null)
            {
                error.WriteLine($"robotpg-sim serve: {problem}");
                return 2;
            }
            options = options! with { Faults = injected };
            if (options.Broker is not null && injected.Any(f => f.Kind == SimFaultKind.BrokerRestart))
            {
                error.WriteLine("robotpg-sim serve: --fault: broker-restart restarts the embedded broker, and --broker names another one");
                return 2;
            }
            if (options.Broker is { } external)
            {
                var secured = connection.Apply(parseResult, external, out problem);
                if (secured is null)
                {
                    error.WriteLine($"robotpg-sim serve: {problem}");
                    return 2;
                }
                options = options with { Broker = secured };
            }
            using var stop = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                stop.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Cancel();
            });
            try
            {
                return RunAsync(options!, output, error, stop.Token).GetAwaiter().GetResult();
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return command;
    }

    /// <summary>Validates the arguments; on failure <paramref name="problem"/> is one line naming the option and why.</summary>
    /// <summary>The <c>--fault</c> specs as faults, or null and the first bad one's problem.</summary>
    public static IReadOnlyList<SimFault>? TryParseFaults(string[]? specs, out string? problem)
    {
        problem = null;
        var result = new List<SimFault>();
        foreach (string spec in specs ?? [])
        {
            var fault = SimFault.TryParse(spec, out string? why);
            if (fault is null)
            {
                problem = $"--fault: {why}";
                return null;
            }
            result.Add(fault);
        }
        return result;
    }

    public static bool TryBuildOptions(string? robot, string? broker, string? port, string? clock, string? seed, string? robotId, string? latencyMs,
        string? noise, bool randomize, bool truth, string? controlRate, string? physicsDir, out SimulationServerOptions? options, out string? problem)
    {
        options = null;
        robot ??= "balance-bot";
        if (Array.IndexOf(RobotPhysicsConfigLoader.KnownRobots, robot) < 0)
            return Fail($"--robot: '{robot}' is not one of {string.Join(", ", RobotPhysicsConfigLoader.KnownRobots)}", out problem);
        if (robotId is not null && Topics.ValidateRobotId(robotId) is { } idProblem) return Fail($"--robot-id: {idProblem}", out problem);
        if (!int.TryParse(port ?? "1883", NumberStyles.None, CultureInfo.InvariantCulture, out int embeddedPort) || embeddedPort > 65535)
            return Fail($"--port: '{port}' must be an integer 0–65535", out problem);
        MqttEndpoint? endpoint = null;
        if (!string.Equals(broker ?? "embedded", "embedded", StringComparison.OrdinalIgnoreCase))
        {
            endpoint = MqttEndpoint.TryParse(broker!, $"robotpg-sim-{robotId ?? robot}", out string? brokerProblem);
            if (endpoint is null) return Fail($"--broker: {brokerProblem}", out problem);
            if (BrokerHostCheck.Problem(endpoint.Host) is { } hostProblem) return Fail($"--broker: {hostProblem}", out problem);
        }
        SimClockMode mode;
        switch (clock ?? "lockstep")
        {
            case "lockstep": mode = SimClockMode.Lockstep; break;
            case "realtime": mode = SimClockMode.Realtime; break;
            default: return Fail($"--clock: '{clock}' must be lockstep or realtime", out problem);
        }
        if (!ulong.TryParse(seed ?? "1", NumberStyles.None, CultureInfo.InvariantCulture, out ulong seedValue))
            return Fail($"--seed: '{seed}' must be a non-negative integer", out problem);
        if (!double.TryParse(latencyMs ?? "0", NumberStyles.Float, CultureInfo.InvariantCulture, out double latency) || !(latency >= 0 && latency <= 10_000))
            return Fail($"--latency-ms: '{latencyMs}' must be a number of milliseconds in [0, 10000]", out problem);
        if (latency > 0 && mode == SimClockMode.Lockstep)
            return Fail("--latency-ms: actuation latency only applies to --clock realtime (lockstep has no wall clock)", out problem);
        if (!double.TryParse(noise ?? "1", NumberStyles.Float, CultureInfo.InvariantCulture, out double noiseScale) || !(noiseScale >= 0 && noiseScale <= 100))
            return Fail($"--noise: '{noise}' must be a scale in [0, 100]", out problem);
        double? rate = null;
        if (controlRate is not null)
        {
            if (!double.TryParse(controlRate, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) || !(r > 0 && r <= 10_000))
                return Fail($"--control-rate: '{controlRate}' must be a rate in (0, 10000] Hz", out problem);
            rate = r;
        }
        options = new SimulationServerOptions
        {
            Robot = robot, RobotId = robotId, Seed = seedValue, Clock = mode, Broker = endpoint, EmbeddedPort = embeddedPort,
            ActuationLatency = TimeSpan.FromMilliseconds(latency), SensorNoiseScale = noiseScale, RandomizeOnReset = randomize,
            PublishTruth = truth, ControlRateHz = rate, PhysicsDirectory = physicsDir,
        };
        problem = null;
        return true;
    }

    private static bool Fail(string message, out string? problem)
    {
        problem = message;
        return false;
    }

    private static async Task<int> RunAsync(SimulationServerOptions options, TextWriter output, TextWriter error, CancellationToken stop)
    {
        SimulationServer server;
        try
        {
            server = await SimulationServer.StartAsync(options).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RobotPhysicsConfigException or IOException or ArgumentException or System.Net.Sockets.SocketException)
        {
            error.WriteLine($"robotpg-sim serve: {ex.Message}");
            return 1;
        }
        await using (server.ConfigureAwait(false))
        {
            output.WriteLine($"serving {options.Robot} as robotpg/{server.Topics.RobotId}/ on {server.BrokerHost}:{server.BrokerPort} " +
                $"({(options.Clock == SimClockMode.Lockstep ? "lockstep" : "realtime")}, seed {options.Seed}); Ctrl+C stops");
            output.WriteLine($"  sensors {server.Topics.Sensors}  actuators {server.Topics.Actuators}  truth {server.Topics.Truth}  status {server.Topics.Telemetry(TelemetryKinds.Sim)}");
            using var timer = new PeriodicTimer(options.StatusPeriod);
            try
            {
                while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
                {
                    var s = server.LastStatus;
                    if (s is null) continue;
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"tick {s.Tick} t={s.SimTime:F2}s {s.TicksPerSecond:F0} ticks/s accepted {s.ActuatorFramesAccepted} malformed {s.ActuatorFramesMalformed} " +
                        $"out-of-order {s.ActuatorFramesOutOfOrder} resets {s.Resets}{(s.Fallen ? " FALLEN" : "")}{(server.Client.IsConnected ? "" : " (broker unreachable)")}"));
                }
            }
            catch (OperationCanceledException)
            {
                output.WriteLine("stopping");
            }
        }
        return 0;
    }
}
