using System.Net;
using MQTTnet.Server;

namespace RobotPG.Messaging;

/// <summary>
/// MQTTnet's broker hosted in-process on 127.0.0.1 (the zero-install default of DESIGN.md). Port 0
/// lets the OS choose a free port; <see cref="Port"/> tells which.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;

    private EmbeddedBroker(MqttServer server, int port)
    {
        _server = server;
        Port = port;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    public bool IsStarted => _server.IsStarted;

    /// <summary>Starts a broker on 127.0.0.1:<paramref name="port"/> (0 = any free port).</summary>
    public static async Task<EmbeddedBroker> StartAsync(int port = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        var options = new MqttServerFactory().CreateServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
            .WithDefaultEndpointPort(port)
            .Build();
        var server = new MqttServerFactory().CreateMqttServer(options);
        long anonymous = 0;
        // MQTT 5 clients may leave the id empty and expect one assigned (mosquitto_sub -V mqttv5 does).
        // MQTTnet refuses an empty id under MQTT 3.1.1 whatever we do here: such clients need -i.
        server.ValidatingConnectionAsync += e =>
        {
            if (string.IsNullOrEmpty(e.ClientId)) e.AssignedClientIdentifier = $"anonymous-{Interlocked.Increment(ref anonymous)}";
            return Task.CompletedTask;
        };
        await server.StartAsync().ConfigureAwait(false);
        return new EmbeddedBroker(server, options.DefaultEndpointOptions.Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server.IsStarted) await _server.StopAsync().ConfigureAwait(false);
        _server.Dispose();
    }
}
