using System.Net;
using RobotPG.Messaging;

namespace RobotPG.Sim.Dashboard;

/// <summary>The dashboard as one thing: an MQTT client feeding a <see cref="DashboardHub"/>, and the web server showing it.</summary>
public sealed class FleetDashboard : IAsyncDisposable
{
    private readonly ResilientMqttClient _client;

    private FleetDashboard(ResilientMqttClient client, DashboardHub hub, DashboardServer server)
    {
        _client = client;
        Hub = hub;
        Server = server;
    }

    public DashboardHub Hub { get; }

    public DashboardServer Server { get; }

    public bool BrokerConnected => _client.IsConnected;

    /// <summary>Starts serving at once; the broker connection is made (and remade) in the background.</summary>
    public static async Task<FleetDashboard> StartAsync(MqttEndpoint broker, IPAddress address, int port)
    {
        var hub = new DashboardHub();
        // Telemetry is JSON of a few hundred bytes; 64 KiB leaves room for any status a robot sends.
        var client = new ResilientMqttClient(broker, new ResilientMqttClientOptions { MaxPayloadLength = 64 * 1024 });
        foreach (string filter in DashboardHub.Filters)
            await client.SubscribeAsync(filter, hub.OnMessage).ConfigureAwait(false);
        client.Start();
        DashboardServer server;
        try
        {
            server = DashboardServer.Start(hub, address, port);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new FleetDashboard(client, hub, server);
    }

    public Task<bool> WaitConnectedAsync(TimeSpan timeout) => _client.WaitConnectedAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
    }
}
