using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Dashboard;

namespace RobotPG.Sim.Cli;

/// <summary>
/// <c>robotpg-sim dashboard --broker mqtt://host:port [--credentials FILE] [--listen ADDRESS] [--port N]</c>:
/// a local web page that lists every robot on the broker and draws the chosen one's learning live.
/// </summary>
public static class DashboardCommand
{
    public const int DefaultPort = 8765;

    public static Command Create()
    {
        var broker = new Option<string>("--broker") { Description = "The MQTT broker the robots publish to: mqtt://host:port or mqtts://host:port.", Required = true };
        var credentials = new Option<string?>("--credentials") { Description = "Broker username and password file (username=…, password=… lines; chmod 600)." };
        var listen = new Option<string>("--listen") { Description = "Address the page is served on. Loopback unless you mean to show it to the network.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<string>("--port") { Description = "Port of the page; 0 takes a free one.", DefaultValueFactory = _ => DefaultPort.ToString(CultureInfo.InvariantCulture) };
        var command = new Command("dashboard", "Serve a live web dashboard of every robot on an MQTT broker: status, returns, episode lengths, learner diagnostics, loop timing, safety events, policy version.");
        foreach (Option o in new Option[] { broker, credentials, listen, port }) command.Options.Add(o);
        command.SetAction(parseResult =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            var endpoint = MqttEndpoint.TryParse(parseResult.GetValue(broker)!, $"robotpg-dashboard-{Environment.ProcessId}", out string? problem);
            if (endpoint is null)
                return Usage(error, $"--broker: {problem}");
            string? credentialsFile = parseResult.GetValue(credentials);
            if (credentialsFile is not null)
            {
                try
                {
                    var (user, password) = MqttCredentials.Load(credentialsFile);
                    endpoint = endpoint with { UserName = user, Password = password };
                }
                catch (InvalidDataException e)
                {
                    return Usage(error, $"--credentials: {e.Message}");
                }
            }
            if (!IPAddress.TryParse(parseResult.GetValue(listen), out var address))
                return Usage(error, $"--listen '{parseResult.GetValue(listen)}' is not an IP address");
            if (!int.TryParse(parseResult.GetValue(port), NumberStyles.None, CultureInfo.InvariantCulture, out int portNumber) || portNumber > 65535)
                return Usage(error, "--port must be 0–65535");
            return Run(endpoint, address, portNumber, output, error);
        });
        return command;
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine($"robotpg-sim dashboard: {message}");
        return 2;
    }

    private static int Run(MqttEndpoint endpoint, IPAddress address, int port, TextWriter output, TextWriter error)
    {
        FleetDashboard dashboard;
        try
        {
            dashboard = FleetDashboard.StartAsync(endpoint, address, port).GetAwaiter().GetResult();
        }
        catch (HttpListenerException e)
        {
            error.WriteLine($"robotpg-sim dashboard: cannot listen on {address}:{port}: {e.Message}");
            return 1;
        }
        using var stop = new ManualResetEventSlim();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Set();
        };
        Console.CancelKeyPress += onCancel;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Set();
        });
        try
        {
            output.WriteLine($"dashboard: {dashboard.Server.Url} (robots on mqtt://{endpoint.Host}:{endpoint.Port}); Ctrl+C stops");
            if (!dashboard.WaitConnectedAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult())
                output.WriteLine($"dashboard: broker mqtt://{endpoint.Host}:{endpoint.Port} not reachable yet; retrying in the background");
            stop.Wait();
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            dashboard.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
