namespace RobotPG.Messaging;

/// <summary>MQTT protocol version a client speaks.</summary>
public enum MqttProtocol
{
    /// <summary>MQTT 5 (the default).</summary>
    V5,
    /// <summary>MQTT 3.1.1, for brokers that speak nothing newer.</summary>
    V311,
}

/// <summary>A retained message the broker publishes for us when we vanish without saying goodbye.</summary>
public sealed record MqttLastWill(string Topic, byte[] Payload);

/// <summary>
/// Where a broker listens and who we are to it: address, TLS trust, client certificate, credentials,
/// protocol, limits. The password never appears in <see cref="ToString"/>.
/// </summary>
public sealed record MqttEndpoint(string Host, int Port, string ClientId, string? UserName = null, string? Password = null)
{
    public const int DefaultPort = 1883;
    public const int DefaultTlsPort = 8883;

    /// <summary>TLS (<c>mqtts://</c>).</summary>
    public bool UseTls { get; init; }

    /// <summary>PEM file of the CA that signed the broker's certificate; null: the system's trust store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM certificate presented to the broker (mutual TLS), with <see cref="ClientKeyFile"/>.</summary>
    public string? ClientCertificateFile { get; init; }

    public string? ClientKeyFile { get; init; }

    public MqttProtocol Protocol { get; init; } = MqttProtocol.V5;

    /// <summary>Largest packet we accept from the broker (MQTT 5); 0: no limit announced.</summary>
    public uint MaximumPacketSize { get; init; }

    public MqttLastWill? Will { get; init; }

    /// <summary>Address for messages: scheme, host, port and client id; never the credentials.</summary>
    public override string ToString() => $"{(UseTls ? "mqtts" : "mqtt")}://{Host}:{Port} as {ClientId}";

    /// <summary>
    /// Parses <c>mqtt://host[:port]</c>, <c>mqtts://host[:port]</c> (TLS, default port 8883), <c>tcp://</c>,
    /// or a bare <c>host[:port]</c>. Returns null and a one-line reason when the text is not a broker address.
    /// </summary>
    public static MqttEndpoint? TryParse(string text, string clientId, out string? error)
    {
        error = null;
        string rest = text.Trim();
        bool tls = false;
        if (rest.StartsWith("mqtt://", StringComparison.OrdinalIgnoreCase)) rest = rest[7..];
        else if (rest.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase)) rest = rest[6..];
        else if (rest.StartsWith("mqtts://", StringComparison.OrdinalIgnoreCase))
        {
            rest = rest[8..];
            tls = true;
        }
        else if (rest.Contains("://", StringComparison.Ordinal))
        {
            error = $"broker '{text}': only mqtt://host:port and mqtts://host:port are supported";
            return null;
        }
        rest = rest.TrimEnd('/');
        int port = tls ? DefaultTlsPort : DefaultPort;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && !(rest.StartsWith('[') && rest.EndsWith(']')))
        {
            if (!int.TryParse(rest.AsSpan(colon + 1), out port) || port < 1 || port > 65535)
            {
                error = $"broker '{text}': port must be 1–65535";
                return null;
            }
            rest = rest[..colon];
        }
        rest = rest.Trim('[', ']');
        if (rest.Length == 0)
        {
            error = $"broker '{text}': host is empty";
            return null;
        }
        return new MqttEndpoint(rest, port, clientId) { UseTls = tls };
    }
}
