using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Tasks;
using RobotPG.Learning.Checkpoints;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Fleet;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim fleet --robots N --broker URL [--learners L] ...</c>: a simulated learning fleet on a broker.
/// <c>robotpg-sim learner --config ROBOT.json --key OPERATOR.key.pem [--broker URL]</c>: one fleet learner process.
/// </summary>
public static class FleetCommand
{
    public static Command Create()
    {
        var robots = new Option<int>("--robots") { Description = "Simulated robots (domain-randomised balance bots), 1–64.", DefaultValueFactory = _ => 2 };
        var learners = new Option<int>("--learners") { Description = "Learners sharing the rollouts, 1–8.", DefaultValueFactory = _ => 1 };
        var broker = new Option<string>("--broker") { Description = "Broker address, mqtt://host:port (mosquitto, EMQX, HiveMQ).", Required = true };
        var fleet = new Option<string>("--fleet") { Description = "Fleet name (policy topic robotpg/fleet/NAME/policy).", DefaultValueFactory = _ => "sim" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the robots and networks.", DefaultValueFactory = _ => 1UL };
        var budget = new Option<double>("--max-robot-seconds") { Description = "Simulated seconds per robot before giving up.", DefaultValueFactory = _ => 4000 };
        var kill = new Option<double>("--kill-learner-at") { Description = "Kill learner 0 after this many simulated seconds per robot (failover; 0: never).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Directory for the operator key, checkpoints and learning curves.", DefaultValueFactory = _ => "robotpg-fleet" };
        var command = new Command("fleet", "Run N simulated robots and their learners on a broker until the fleet balances; write the learning curves.");
        foreach (Option o in new Option[] { robots, learners, broker, fleet, seed, budget, kill, output }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            int n = parseResult.GetValue(robots), l = parseResult.GetValue(learners);
            double seconds = parseResult.GetValue(budget), killAt = parseResult.GetValue(kill);
            string? problem = n is < 1 or > 64 ? "--robots must be in 1..64"
                : l is < 1 or > 8 ? "--learners must be in 1..8"
                : !(seconds > 0) ? "--max-robot-seconds must be > 0"
                : !(killAt >= 0) ? "--kill-learner-at must be ≥ 0"
                : MqttEndpoint.TryParse(parseResult.GetValue(broker)!, "check", out string? e) is null ? $"--broker: {e}"
                : Topics.ValidateRobotId(parseResult.GetValue(fleet)) is string f ? "--fleet: " + f.Replace("robot id", "fleet name", StringComparison.Ordinal)
                : null;
            if (problem is not null)
            {
                error.WriteLine($"robotpg-sim fleet: {problem}");
                return 2;
            }
            var options = new FleetRunOptions
            {
                Broker = parseResult.GetValue(broker)!, Robots = n, Learners = l, FleetName = parseResult.GetValue(fleet)!, Seed = parseResult.GetValue(seed),
                OutputDirectory = parseResult.GetValue(output)!, MaxStepsPerRobot = (long)Math.Ceiling(seconds * 50),
                KillLearnerAtStepsPerRobot = (long)Math.Round(killAt * 50), Progress = parseResult.InvocationConfiguration.Output,
            };
            using var cancel = new CancellationTokenSource();
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cancel.Cancel(); });
            try
            {
                var result = new FleetRun(options).RunAsync(cancel.Token).GetAwaiter().GetResult();
                return result.Balanced ? 0 : 1;
            }
            catch (Exception ex) when (ex is IOException or CryptographicException or ArgumentException or CheckpointException)
            {
                error.WriteLine($"robotpg-sim fleet: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    public static Command CreateLoad()
    {
        var broker = new Option<string>("--broker") { Description = "Broker address, mqtt://host:port.", Required = true };
        var robots = new Option<int>("--virtual-robots") { Description = "Virtual robots, each its own MQTT client, 1–10000.", DefaultValueFactory = _ => 100 };
        var seconds = new Option<double>("--seconds") { Description = "Wall seconds of publishing.", DefaultValueFactory = _ => 20 };
        var rate = new Option<int>("--transitions") { Description = "Transitions per 1-s batch (the control rate).", DefaultValueFactory = _ => 100 };
        var command = new Command("fleet-load", "Load-test a broker and one learner with many virtual robots publishing 1-s rollout batches.");
        foreach (Option o in new Option[] { broker, robots, seconds, rate }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            int n = parseResult.GetValue(robots), t = parseResult.GetValue(rate);
            double s = parseResult.GetValue(seconds);
            string? problem = n is < 1 or > 10000 ? "--virtual-robots must be in 1..10000" : !(s > 0 && s <= 3600) ? "--seconds must be in (0, 3600]"
                : t is < 1 or > 8192 ? "--transitions must be in 1..8192"
                : MqttEndpoint.TryParse(parseResult.GetValue(broker)!, "check", out string? e) is null ? $"--broker: {e}" : null;
            if (problem is not null)
            {
                error.WriteLine($"robotpg-sim fleet-load: {problem}");
                return 2;
            }
            try
            {
                FleetLoad.RunAsync(parseResult.GetValue(broker)!, n, s, t, parseResult.InvocationConfiguration.Output).GetAwaiter().GetResult();
                return 0;
            }
            catch (Exception ex) when (ex is IOException or ArgumentException)
            {
                error.WriteLine($"robotpg-sim fleet-load: {ex.Message}");
                return 2;
            }
        });
        return command;
    }

    public static Command CreateLearner()
    {
        var config = new Option<string>("--config") { Description = "A fleet robot's config (learning.mode fleet): task, network sizes, learning options, broker, fleet.", Required = true };
        var key = new Option<string>("--key") { Description = "Operator private key PEM that signs the broadcast policies.", Required = true };
        var broker = new Option<string?>("--broker") { Description = "Broker address (default: the config's learning.fleet.broker)." };
        var group = new Option<string>("--group") { Description = "Shared-subscription group of the learners.", DefaultValueFactory = _ => Topics.LearnerGroup };
        var maxStale = new Option<int>("--max-stale") { Description = "Drop batches made by a policy more than this many versions old.", DefaultValueFactory = _ => 4 };
        var checkpoints = new Option<string>("--checkpoints") { Description = "Checkpoint directory (resumed from when it holds one).", DefaultValueFactory = _ => "fleet-learner-checkpoints" };
        var id = new Option<string>("--id") { Description = "Names this learner: MQTT client id robotpg-learner-ID, telemetry on robotpg/learner-ID/telemetry/fleet-learner.", DefaultValueFactory = _ => Environment.ProcessId.ToString(CultureInfo.InvariantCulture) };
        var command = new Command("learner", "Learn from a fleet's rollouts on the broker (shared subscription) and broadcast signed policies; Ctrl+C checkpoints and stops.");
        foreach (Option o in new Option[] { config, key, broker, group, maxStale, checkpoints, id }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            var output = parseResult.InvocationConfiguration.Output;
            string path = parseResult.GetValue(config)!;
            var loaded = ConfigLoader.Load(path);
            if (!loaded.Ok)
            {
                error.WriteLine($"robotpg-sim learner: {loaded.Errors[0]}");
                return 2;
            }
            var c = loaded.Config!;
            if (c.Learning is not { Mode: "fleet", Fleet: { } fleet } learning)
            {
                error.WriteLine($"robotpg-sim learner: {path}: learning.mode is not \"fleet\"");
                return 2;
            }
            if (parseResult.GetValue(maxStale) < 0)
            {
                error.WriteLine("robotpg-sim learner: --max-stale must be ≥ 0");
                return 2;
            }
            string brokerText = parseResult.GetValue(broker) ?? fleet.Broker;
            var endpoint = MqttEndpoint.TryParse(brokerText, $"robotpg-learner-{parseResult.GetValue(id)}", out string? brokerError);
            if (endpoint is null)
            {
                error.WriteLine($"robotpg-sim learner: --broker: {brokerError}");
                return 2;
            }
            try
            {
                using var operatorKey = OperatorKey.Load(parseResult.GetValue(key)!);
                using var keys = new SignatureVerifier([operatorKey.PublicKeyPem]);
                var task = ControlTasks.Create(c);
                var options = new LearningOptions
                {
                    Algorithm = learning.Algorithm, BatchSteps = learning.BatchSteps ?? 1024, Seed = c.Policy.Seed,
                    LearningRate = learning.LearningRate is double lr ? (float)lr : null, ValueHiddenSizes = learning.ValueHiddenSizes ?? c.Policy.HiddenSizes,
                    MaxKl = learning.MaxKl ?? new LearningOptions().MaxKl,
                };
                var algorithm = OnDeviceAlgorithms.Create(options, task.ObservationSize, task.ActionSize, c.Policy.HiddenSizes, c.RobotId, offPolicyData: true);
                var core = new FleetLearnerCore(algorithm, new OperatorFleetPolicySigner(operatorKey, fleet.Name), parseResult.GetValue(maxStale), options.MaxKl,
                    new LearnerCheckpoints(parseResult.GetValue(checkpoints)!), learning.CheckpointEveryUpdates ?? 10);
                string? resumed = core.Resume(out string? warning);
                if (warning is not null) output.WriteLine($"robotpg-sim learner: {warning}");
                output.WriteLine(resumed is null ? "robotpg-sim learner: starting at version 1" : $"robotpg-sim learner: resumed version {core.Version} from {resumed}");
                var learner = new FleetLearner(core, new OperatorFleetPolicyVerifier(keys, fleet.Name), endpoint, fleet.Name, parseResult.GetValue(group)!, output,
                    learnerId: "learner-" + parseResult.GetValue(id));
                using var stop = new ManualResetEventSlim();
                using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Set(); });
                using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Set(); });
                learner.StartAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
                output.WriteLine($"robotpg-sim learner: consuming {Topics.SharedRolloutFilter(parseResult.GetValue(group)!)} on {endpoint}, broadcasting {Topics.FleetPolicy(fleet.Name)}, progress on {learner.ProgressTopic}");
                stop.Wait();
                learner.DisposeAsync().AsTask().GetAwaiter().GetResult();
                output.WriteLine($"robotpg-sim learner: stopped at version {core.Version}; {core.BatchesConsumed} batches learned from, {core.BatchesStale} stale, {core.BatchesMalformed} malformed");
                return 0;
            }
            catch (Exception ex) when (ex is IOException or CryptographicException or ArgumentException or CheckpointException or UnauthorizedAccessException)
            {
                error.WriteLine($"robotpg-sim learner: {ex.Message}");
                return 2;
            }
        });
        return command;
    }
}
