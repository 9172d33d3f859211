using System.CommandLine;

// robotpg-sim: desktop pre-training, the simulated robot as an MQTT peer, and the one-command demo.
// Each verb lives in its own file under Cli/ and contributes its Command here.
var root = new RootCommand("RobotPG simulator: train policies in-process, serve a simulated robot over MQTT, run the demo.");
root.Subcommands.Add(RobotPG.Sim.Cli.TrainCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.EvalCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.RolloutCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.CompareCommand.Create());
root.Subcommands.Add(RobotPG.Sim.Cli.ServeCommand.Create());
return root.Parse(args).Invoke();
