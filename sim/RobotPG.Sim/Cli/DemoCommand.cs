using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using RobotPG.Controller.Learning;
using RobotPG.Messaging;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Serving;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim demo [--duration S] [--algo A] [--seed N] [--clock realtime|lockstep] [--json]
/// [--out DIR] [--from-scratch] [--broker URL|--broker-port N] [connection options]</c>: broker, simulated balance
/// bot and learning controller in one process over MQTT on loopback, or over an external broker with the same
/// TLS, credentials and protocol options as serve; Ctrl+C stops cleanly (motors off, log flushed, checkpoint written).
/// </summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var duration = new Option<string>("--duration") { Description = "Simulated seconds the controller learns on the robot (real time: as many wall seconds; --from-scratch needs about 600 to learn to balance).", DefaultValueFactory = _ => "120" };
        var algo = new Option<string>("--algo") { Description = $"Learning algorithm: {string.Join(", ", OnDeviceAlgorithms.Names)}.", DefaultValueFactory = _ => "ppo" };
        var seed = new Option<string>("--seed") { Description = "Seed of the robot, the networks and the sampling.", DefaultValueFactory = _ => "1" };
        var clock = new Option<string>("--clock") { Description = "realtime (the robot's own pace) or lockstep (as fast as the machine goes, deterministic).", DefaultValueFactory = _ => "realtime" };
        var json = new Option<bool>("--json") { Description = "One JSON object per update, and a final one with \"final\": true." };
        var output = new Option<string>("--out") { Description = "Directory for the config, trajectory log, checkpoints and learning curve.", DefaultValueFactory = _ => "robotpg-demo" };
        var brokerPort = new Option<string?>("--broker-port") { Description = "Use the MQTT broker already listening on 127.0.0.1 at this port (e.g. mosquitto, for a dashboard) instead of hosting one." };
        var broker = new Option<string?>("--broker") { Description = "Use this broker instead of hosting one: mqtt://host:port or mqtts://host:port (with --ca-file, --cert/--cert-key, --credentials, --mqtt-version)." };
        var fromScratch = new Option<bool>("--from-scratch") { Description = "Skip the in-process pre-training: the robot learns from an untrained policy (give it --duration 600)." };
        var command = new Command("demo", "Learn to balance on a simulated robot over MQTT, exactly as on hardware: pre-train in process, then fine-tune on the randomised robot.");
        foreach (Option o in new Option[] { duration, algo, seed, clock, json, output, fromScratch, brokerPort, broker }) command.Options.Add(o);
        var connection = new BrokerConnectionOptions();
        connection.AddTo(command);
        command.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            if (!double.TryParse(parseResult.GetValue(duration), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0 && seconds <= 1e6))
            {
                error.WriteLine("robotpg-sim demo: --duration must be a number of simulated seconds in (0, 1e6]");
                return 2;
            }
            string algorithm = parseResult.GetValue(algo)!;
            if (!OnDeviceAlgorithms.Names.Contains(algorithm))
            {
                error.WriteLine($"robotpg-sim demo: --algo '{algorithm}' is not one of {string.Join(", ", OnDeviceAlgorithms.Names)}");
                return 2;
            }
            if (!ulong.TryParse(parseResult.GetValue(seed), NumberStyles.None, CultureInfo.InvariantCulture, out ulong seedValue))
            {
                error.WriteLine("robotpg-sim demo: --seed must be a non-negative integer");
                return 2;
            }
            SimClockMode? mode = parseResult.GetValue(clock) switch
            {
                "realtime" => SimClockMode.Realtime,
                "lockstep" => SimClockMode.Lockstep,
                _ => null,
            };
            if (mode is null)
            {
                error.WriteLine("robotpg-sim demo: --clock must be realtime or lockstep");
                return 2;
            }
            string? url = parseResult.GetValue(broker);
            if (parseResult.GetValue(brokerPort) is string portText)
            {
                if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p < 1 || p > 65535)
                {
                    error.WriteLine("robotpg-sim demo: --broker-port must be 1–65535");
                    return 2;
                }
                if (url is not null)
                {
                    error.WriteLine("robotpg-sim demo: give --broker or --broker-port, not both");
                    return 2;
                }
                url = $"mqtt://127.0.0.1:{p}";
            }
            MqttEndpoint? external = null;
            if (url is not null)
            {
                external = MqttEndpoint.TryParse(url, DemoRun.SimClientId, out string? problem);
                if (external is not null && BrokerHostCheck.Problem(external.Host) is { } hostProblem) (external, problem) = (null, hostProblem);
                if (external is not null) external = connection.Apply(parseResult, external, out problem);
                if (external is null)
                {
                    error.WriteLine($"robotpg-sim demo: --broker: {problem}");
                    return 2;
                }
            }
            else if (connection.Given(parseResult) is { } alone)
            {
                error.WriteLine($"robotpg-sim demo: {alone} needs --broker (the embedded broker of the demo is plain MQTT on loopback)");
                return 2;
            }
            var run = new DemoRun(new DemoOptions
            {
                Broker = external,
                CredentialsFile = connection.CredentialsFile(parseResult),
                DurationSeconds = seconds,
                Algorithm = algorithm,
                Seed = seedValue,
                Clock = mode.Value,
                Json = parseResult.GetValue(json),
                FromScratch = parseResult.GetValue(fromScratch),
                OutputDirectory = parseResult.GetValue(output)!,
            }, parseResult.InvocationConfiguration.Output);
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                run.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                run.Cancel();
            });
            try
            {
                return run.RunAsync().GetAwaiter().GetResult();
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return command;
    }
}
