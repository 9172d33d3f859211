// robotpg-sim: desktop pre-training, the simulated robot as an MQTT peer, and the one-command demo.
return RobotPG.Sim.Cli.SimCli.Run(args);
