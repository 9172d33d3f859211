using RobotPG.Controller.Cli;

return RobotPgCli.Run(args);
