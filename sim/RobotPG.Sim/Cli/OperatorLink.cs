using System.Buffers;
using System.CommandLine;
using System.Text;
using MQTTnet.Protocol;
using RobotPG.Messaging;

namespace RobotPG.Sim.Cli;

/// <summary>
/// One signed message to a running robot and its reply: connects, subscribes to <c>robotpg/{id}/reply</c>,
/// publishes with QoS 1, prints the reply. Exit 0 when the robot accepted, 1 when it refused or did not
/// answer in time, 2 on bad input.
/// </summary>
internal static class OperatorLink
{
    public static int Send(MqttEndpoint endpoint, string robotId, string verb, byte[] payload, TimeSpan timeout, TextWriter output, TextWriter error, string command)
    {
        var topics = new Topics(robotId);
        var reply = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var client = new ResilientMqttClient(endpoint, new ResilientMqttClientOptions { QueueCapacity = 4, MaxPayloadLength = Math.Max(payload.Length, 1024) });
        try
        {
            client.SubscribeAsync(topics.Reply, (string topic, in ReadOnlySequence<byte> p) =>
            {
                string text = Encoding.UTF8.GetString(p);
                if (text.Contains($"\"verb\":\"{verb}\"", StringComparison.Ordinal)) reply.TrySetResult(text);
            }, MqttQualityOfServiceLevel.AtLeastOnce).GetAwaiter().GetResult();
            client.Start();
            if (!client.WaitConnectedAsync(timeout).GetAwaiter().GetResult())
            {
                error.WriteLine($"{command}: cannot reach the broker at {endpoint}: {client.LastError ?? "no answer"}");
                return 1;
            }
            client.TryPublish(topics.Command(verb), payload, MqttQualityOfServiceLevel.AtLeastOnce);
            if (!reply.Task.Wait(timeout))
            {
                error.WriteLine($"{command}: no reply from {robotId} within {timeout.TotalSeconds:F0} s (is it running, subscribed to this broker?)");
                return 1;
            }
            output.WriteLine(reply.Task.Result);
            return reply.Task.Result.Contains("\"outcome\":\"accepted\"", StringComparison.Ordinal) ? 0 : 1;
        }
        finally
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>--robot, --broker, --key and --timeout, shared by <c>command</c> and <c>policy push</c>.</summary>
    public sealed class Options
    {
        public readonly Option<string> Robot = new("--robot") { Description = "Robot id to command.", Required = true };
        public readonly Option<string> Broker = new("--broker") { Description = "mqtt://host:port or mqtts://host:port of the robot's broker.", Required = true };
        public readonly Option<string?> Key = new("--key") { Description = "Operator private key PEM (robotpg-sim key generate)." };
        public readonly Option<string> Timeout = new("--timeout") { Description = "Seconds to wait for the robot's reply.", DefaultValueFactory = _ => "10" };
        public readonly BrokerConnectionOptions Connection = new();

        public void AddTo(Command command)
        {
            foreach (Option o in new Option[] { Robot, Broker, Key, Timeout }) command.Options.Add(o);
            Connection.AddTo(command);
        }

        public MqttEndpoint? Endpoint(ParseResult parse, out TimeSpan timeout, out string? problem)
        {
            timeout = default;
            problem = Topics.ValidateRobotId(parse.GetValue(Robot));
            if (problem is not null) return null;
            if (!double.TryParse(parse.GetValue(Timeout), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0 && seconds <= 3600))
            {
                problem = "--timeout must be a number of seconds in (0, 3600]";
                return null;
            }
            timeout = TimeSpan.FromSeconds(seconds);
            var endpoint = MqttEndpoint.TryParse(parse.GetValue(Broker)!, "robotpg-operator-" + Guid.NewGuid().ToString("N")[..8], out problem);
            return endpoint is null ? null : Connection.Apply(parse, endpoint, out problem);
        }
    }
}
