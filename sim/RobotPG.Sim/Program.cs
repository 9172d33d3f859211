using System.CommandLine;

// robotpg-sim: desktop pre-training, the simulated robot as an MQTT peer, and the one-command demo.
// Each verb lives in its own file under Cli/ and contributes its Command here.
var root = new RootCommand("RobotPG simulator: train policies in-process, serve a simulated robot over MQTT, run the demo.");
root.Subcommands.Add(RobotPG.Sim.Cli.TrainCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.EvalCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.RolloutCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.CompareCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.ServeCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.DemoCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.KeyCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.PolicyCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.FleetCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.FleetCommand.CreateLearner());
root.Subcommands.Add(RobotPG.Sim.Cli.FleetCommand.CreateLoad());
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line and exit code 2 for every usage error, like the verbs' own argument checks.
    Console.Error.WriteLine($"robotpg-sim: {parsed.Errors[0].Message} (see robotpg-sim --help)");
    return 2;
}
return parsed.Invoke();
