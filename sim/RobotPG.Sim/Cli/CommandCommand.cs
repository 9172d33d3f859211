using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim command VERB --robot ID --broker URL --key KEY [--body JSON]</c>: a signed command to a running
/// robot (start, stop, estop, clear-estop, save, load, best) and its reply. <c>estop</c> may go without --key.
/// </summary>
public static class CommandCommand
{
    public static Command Create()
    {
        var verb = new Argument<string>("verb") { Description = "start, stop, estop, clear-estop, save or load." };
        var body = new Option<string>("--body") { Description = "JSON body of the command.", DefaultValueFactory = _ => "{}" };
        var link = new OperatorLink.Options();
        var command = new Command("command", "Send a signed command to a running robot and print its reply.");
        command.Arguments.Add(verb);
        command.Options.Add(body);
        link.AddTo(command);
        command.SetAction(parse =>
        {
            var error = parse.InvocationConfiguration.Error;
            string v = parse.GetValue(verb)!;
            if (Array.IndexOf(CommandNames.Operator, v) < 0 || v == CommandNames.Policy)
            {
                error.WriteLine($"robotpg-sim command: '{v}' is not one of start, stop, estop, clear-estop, save, load, best (policies go with robotpg-sim policy push)");
                return 2;
            }
            string text = parse.GetValue(body)!;
            try
            {
                using var _ = JsonDocument.Parse(text);
            }
            catch (JsonException e)
            {
                error.WriteLine($"robotpg-sim command: --body is not JSON: {e.Message}");
                return 2;
            }
            var endpoint = link.Endpoint(parse, out var timeout, out string? problem);
            if (endpoint is null)
            {
                error.WriteLine($"robotpg-sim command: {problem}");
                return 2;
            }
            string robot = parse.GetValue(link.Robot)!;
            byte[] payload;
            if (parse.GetValue(link.Key) is { } keyFile)
            {
                try
                {
                    using var key = OperatorKey.Load(keyFile);
                    payload = key.Sign(robot, "cmd/" + v, Encoding.UTF8.GetBytes(text)).ToCommandJson();
                }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
                {
                    error.WriteLine($"robotpg-sim command: --key: {e.Message}");
                    return 2;
                }
            }
            else if (v == CommandNames.EmergencyStop)
            {
                payload = Encoding.UTF8.GetBytes(text);
            }
            else
            {
                error.WriteLine($"robotpg-sim command: '{v}' must be signed: give --key");
                return 2;
            }
            return OperatorLink.Send(endpoint, robot, v, payload, timeout, parse.InvocationConfiguration.Output, error, "robotpg-sim command");
        });
        return command;
    }
}
