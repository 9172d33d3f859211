using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace RobotPG.Messaging;

/// <summary>What the embedded broker asks of its clients.</summary>
public sealed record EmbeddedBrokerOptions
{
    /// <summary>TCP port on both loopback addresses; 0 picks one free on both.</summary>
    public int Port { get; init; }

    /// <summary>When set, only this username and password may connect.</summary>
    public string? UserName { get; init; }

    public string? Password { get; init; }

    /// <summary>When set, the broker speaks only TLS with this certificate (which must hold its private key).</summary>
    public X509Certificate2? Certificate { get; init; }
}

/// <summary>
/// MQTTnet's broker hosted in-process (the zero-install default of DESIGN.md), listening on loopback only:
/// 127.0.0.1 and ::1 (where the machine has IPv6), never a wildcard address. Anything past one machine runs
/// on mosquitto (firmware-config/mosquitto/). Clients of MQTT 3.1.1 and 5 connect; a client with an empty id
/// gets one assigned. Optional single username/password and TLS. Its host can also publish and receive
/// in process (<see cref="TryPublish"/>, <see cref="OnPublished"/>): no client connection, no socket,
/// no thread hop on the host's side.
/// </summary>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly MqttServer _server;

    private EmbeddedBroker(MqttServer server, int port, bool ipv6)
    {
        _server = server;
        Port = port;
        ListensOnIpv6 = ipv6;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    /// <summary>Also listening on [::1].</summary>
    public bool ListensOnIpv6 { get; }

    public bool IsStarted => _server.IsStarted;

    /// <summary>Messages <see cref="TryPublish"/> handed to the broker.</summary>
    public long Published => Interlocked.Read(ref _published);
    private long _published;

    /// <summary>Exceptions thrown by <see cref="OnPublished"/> handlers (caught, counted: the publisher's connection must not pay for them).</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);
    private long _handlerFailures;

    /// <summary>
    /// Calls <paramref name="handler"/> for every message any client publishes on exactly <paramref name="topic"/>,
    /// on that client's receive loop before the broker routes it on to subscribers (it still does). The payload is
    /// only valid during the call. Any client the broker accepted may publish there, as for a subscription.
    /// </summary>
    public void OnPublished(string topic, MqttMessageHandler handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(handler);
        _server.InterceptingPublishAsync += e =>
        {
            var message = e.ApplicationMessage;
            if (message is null || message.Topic != topic) return Task.CompletedTask;
            try
            {
                handler(message.Topic, message.Payload);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref _handlerFailures);
            }
            return Task.CompletedTask;
        };
    }

    /// <summary>
    /// Publishes from the broker's own process (QoS 0, not retained) as client <paramref name="senderClientId"/>; false
    /// when the broker is stopped. The payload is copied: MQTTnet keeps a reference to it until every subscriber's
    /// connection has written it and tells no one when, so a reused buffer could change under a slow subscriber.
    /// </summary>
    public bool TryPublish(string topic, ReadOnlySpan<byte> payload, string senderClientId)
    {
        if (!_server.IsStarted) return false;
        var message = new MqttApplicationMessage { Topic = topic, Payload = new ReadOnlySequence<byte>(payload.ToArray()) };
        Task dispatched;
        try
        {
            dispatched = _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = senderClientId });
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            return false; // stopped between the check and the call
        }
        // Routing is synchronous unless an interceptor awaits; MQTTnet logs and swallows routing errors itself.
        if (!dispatched.IsCompleted) _ = dispatched.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        else if (dispatched.IsFaulted) return false;
        Interlocked.Increment(ref _published);
        return true;
    }

    /// <summary>Starts a broker on 127.0.0.1:<paramref name="port"/> (0 = any free port).</summary>
    public static Task<EmbeddedBroker> StartAsync(int port = 0) => StartAsync(new EmbeddedBrokerOptions { Port = port });

    public static async Task<EmbeddedBroker> StartAsync(EmbeddedBrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, 65535);
        if ((options.UserName is null) != (options.Password is null)) throw new ArgumentException("give both a username and a password, or neither");
        bool ipv6 = Socket.OSSupportsIPv6 && CanBind(IPAddress.IPv6Loopback, 0) is not null;
        // Both listeners must share one port, and MQTTnet gives each listener the configured port: with
        // port 0 they would get two different ones, so find one that is free on both first.
        for (int attempt = 0; ; attempt++)
        {
            int port = options.Port != 0 ? options.Port : FreePort(ipv6);
            var server = new MqttServerFactory().CreateMqttServer(BuildOptions(options, port, ipv6));
            Attach(server, options);
            try
            {
                await server.StartAsync().ConfigureAwait(false);
                return new EmbeddedBroker(server, port, ipv6);
            }
            catch (SocketException) when (options.Port == 0 && attempt < 5)
            {
                // another process took the port between the probe and the start: try another
                server.Dispose();
            }
        }
    }

    private static MqttServerOptions BuildOptions(EmbeddedBrokerOptions options, int port, bool ipv6)
    {
        var v6 = ipv6 ? IPAddress.IPv6Loopback : IPAddress.None;
        var builder = new MqttServerFactory().CreateServerOptionsBuilder();
        if (options.Certificate is { } certificate)
        {
            builder = builder.WithoutDefaultEndpoint()
                .WithEncryptedEndpoint()
                .WithEncryptedEndpointBoundIPAddress(IPAddress.Loopback)
                .WithEncryptedEndpointBoundIPV6Address(v6)
                .WithEncryptedEndpointPort(port)
                .WithEncryptionCertificate(certificate);
        }
        else
        {
            builder = builder.WithDefaultEndpoint()
                .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
                .WithDefaultEndpointBoundIPV6Address(v6)
                .WithDefaultEndpointPort(port);
        }
        // One socket write per packet to each subscriber, not header and payload apart (see ResilientMqttClient).
        return builder.WithoutPacketFragmentation().Build();
    }

    private static void Attach(MqttServer server, EmbeddedBrokerOptions options)
    {
        long anonymous = 0;
        byte[]? user = options.UserName is null ? null : Encoding.UTF8.GetBytes(options.UserName);
        byte[]? password = options.Password is null ? null : Encoding.UTF8.GetBytes(options.Password);
        server.ValidatingConnectionAsync += e =>
        {
            if (user is not null)
            {
                bool ok = CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(e.UserName ?? ""), user)
                    & CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(e.Password ?? ""), password);
                if (!ok)
                {
                    e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                    return Task.CompletedTask;
                }
            }
            // mosquitto_sub and friends send an empty id under MQTT 3.1.1 too (allowed with a clean session,
            // MQTT-3.1.3-6); mosquitto assigns one. MQTTnet assigns AssignedClientIdentifier only under MQTT 5
            // and refuses 3.1.1 otherwise, so the id is written into the CONNECT packet for 3.1.1 clients.
            if (string.IsNullOrEmpty(e.ClientId))
            {
                string id = $"auto-{Interlocked.Increment(ref anonymous)}";
                e.AssignedClientIdentifier = id;
                if (e.ProtocolVersion != MQTTnet.Formatter.MqttProtocolVersion.V500 && e.CleanSession == true)
                    ConnectPacketOf(e).ClientId = id;
            }
            return Task.CompletedTask;
        };
    }

    // AOT-safe access to the packet MQTTnet validates (its field in MQTTnet.Server 5.2; the
    // EmbeddedBrokerSecurityTests fail if a new MQTTnet renames it).
    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_connectPacket")]
    private static extern ref MQTTnet.Packets.MqttConnectPacket ConnectPacketOf(ValidatingConnectionEventArgs e);

    private static int FreePort(bool ipv6)
    {
        for (int i = 0; i < 20; i++)
        {
            int? port = CanBind(IPAddress.Loopback, 0);
            if (port is int p && (!ipv6 || CanBind(IPAddress.IPv6Loopback, p) is not null)) return p;
        }
        throw new IOException("no TCP port is free on both 127.0.0.1 and ::1");
    }

    private static int? CanBind(IPAddress address, int port)
    {
        try
        {
            var listener = new TcpListener(address, port);
            listener.Start();
            int bound = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return bound;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server.IsStarted) await _server.StopAsync().ConfigureAwait(false);
        _server.Dispose();
    }
}
