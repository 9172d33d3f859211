using System.CommandLine;

// robotpg-sim: desktop pre-training, the simulated robot as an MQTT peer, and the one-command demo.
// Each verb lives in its own file under Cli/ and contributes its Command here.
var root = new RootCommand("RobotPG simulator: train policies in-process, serve a simulated robot over MQTT, run the demo.");
return root.Parse(args).Invoke();
