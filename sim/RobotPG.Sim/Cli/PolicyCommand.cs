using System.CommandLine;
using System.Security.Cryptography;
using RobotPG.Learning.Checkpoints;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim policy sign CHECKPOINT --key KEY (--robot ID | --fleet NAME) [--out FILE]</c>: wraps a checkpoint
/// in a signed envelope for one robot (or a fleet). The robot accepts a signed checkpoint from disk or over MQTT
/// only when the signing key is one of its operator keys.
/// </summary>
public static class PolicyCommand
{
    public static Command Create()
    {
        var command = new Command("policy", "Sign checkpoints and push them to running robots.");
        command.Subcommands.Add(CreateSign());
        return command;
    }

    private static Command CreateSign()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "Checkpoint file to sign." };
        var key = new Option<string>("--key") { Description = "Operator private key PEM (robotpg-sim key generate).", Required = true };
        var robot = new Option<string?>("--robot") { Description = "Robot id the checkpoint is for." };
        var fleet = new Option<string?>("--fleet") { Description = "Fleet name the checkpoint is for (instead of --robot)." };
        var output = new Option<string?>("--out") { Description = "Signed file to write (default: CHECKPOINT.signed)." };
        var sign = new Command("sign", "Wrap a checkpoint in an operator-signed envelope.");
        sign.Arguments.Add(checkpoint);
        foreach (Option o in new Option[] { key, robot, fleet, output }) sign.Options.Add(o);
        sign.SetAction(parseResult =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            string path = parseResult.GetValue(checkpoint)!;
            string? audience = Audience(parseResult.GetValue(robot), parseResult.GetValue(fleet), out string? problem);
            if (audience is null)
            {
                error.WriteLine($"robotpg-sim policy sign: {problem}");
                return 2;
            }
            try
            {
                byte[] bytes = ReadCheckpoint(path);
                using var operatorKey = OperatorKey.Load(parseResult.GetValue(key)!);
                byte[] envelope = operatorKey.Sign(audience, SignedMessage.PolicyPurpose, bytes).ToEnvelope();
                string target = parseResult.GetValue(output) ?? path + ".signed";
                File.WriteAllBytes(target, envelope);
                parseResult.InvocationConfiguration.Output.WriteLine($"{target}: {path} signed by {operatorKey.KeyId} for {audience}");
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or CheckpointException)
            {
                error.WriteLine($"robotpg-sim policy sign: {e.Message}");
                return 2;
            }
        });
        return sign;
    }

    /// <summary>The signature's audience: the robot id, or <c>fleet/NAME</c>; exactly one must be given.</summary>
    internal static string? Audience(string? robot, string? fleet, out string? problem)
    {
        if ((robot is null) == (fleet is null))
        {
            problem = "give exactly one of --robot ID or --fleet NAME";
            return null;
        }
        problem = Topics.ValidateRobotId(robot ?? fleet);
        if (problem is not null) return null;
        return robot ?? "fleet/" + fleet;
    }

    /// <summary>The checkpoint's bytes, refused unless they hold a readable checkpoint (so nobody signs garbage).</summary>
    internal static byte[] ReadCheckpoint(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (SignedMessage.IsEnvelope(bytes)) throw new IOException($"{path}: already signed");
        CheckpointFile.ReadInfo(path);
        return bytes;
    }
}
