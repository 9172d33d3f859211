using System.CommandLine;
using RobotPG.Messaging.Security;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim key generate --out DIR</c>: a new operator key pair (ECDSA P-256, PEM). The private key
/// (mode 0600) signs commands and policies on the desktop; the public key goes into each robot's config.
/// </summary>
public static class KeyCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory for operator.key.pem (private, 0600) and operator.pub.pem.", Required = true };
        var generate = new Command("generate", "Create an operator key pair for signing commands and policies.");
        generate.Options.Add(output);
        generate.SetAction(parseResult =>
        {
            string dir = parseResult.GetValue(output)!;
            try
            {
                using var key = OperatorKey.Generate();
                key.Save(dir);
                parseResult.InvocationConfiguration.Output.WriteLine(
                    $"operator key {key.KeyId}: private {Path.Combine(dir, OperatorKey.PrivateKeyFileName)} (keep it on this machine), public {Path.Combine(dir, OperatorKey.PublicKeyFileName)} (copy it to the robot and list it under security.operatorKeys)");
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                parseResult.InvocationConfiguration.Error.WriteLine($"robotpg-sim key generate: {e.Message}");
                return 2;
            }
        });
        var command = new Command("key", "Operator signing keys.");
        command.Subcommands.Add(generate);
        return command;
    }
}
