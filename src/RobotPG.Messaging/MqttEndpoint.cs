namespace RobotPG.Messaging;

/// <summary>Where a broker listens and who we are to it.</summary>
public sealed record MqttEndpoint(string Host, int Port, string ClientId, string? UserName = null, string? Password = null)
{
    public const int DefaultPort = 1883;

    /// <summary>
    /// Parses <c>mqtt://host[:port]</c> (or <c>tcp://</c>, or a bare <c>host[:port]</c>). Returns null
    /// and a one-line reason when the text is not a broker address.
    /// </summary>
    public static MqttEndpoint? TryParse(string text, string clientId, out string? error)
    {
        error = null;
        string rest = text.Trim();
        if (rest.StartsWith("mqtt://", StringComparison.OrdinalIgnoreCase)) rest = rest[7..];
        else if (rest.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase)) rest = rest[6..];
        else if (rest.Contains("://", StringComparison.Ordinal))
        {
            error = $"broker '{text}': only mqtt://host:port is supported";
            return null;
        }
        rest = rest.TrimEnd('/');
        int port = DefaultPort;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0)
        {
            if (!int.TryParse(rest.AsSpan(colon + 1), out port) || port < 1 || port > 65535)
            {
                error = $"broker '{text}': port must be 1–65535";
                return null;
            }
            rest = rest[..colon];
        }
        if (rest.Length == 0)
        {
            error = $"broker '{text}': host is empty";
            return null;
        }
        return new MqttEndpoint(rest, port, clientId);
    }
}
