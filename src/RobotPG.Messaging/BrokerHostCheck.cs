using System.Net;
using System.Net.Sockets;

namespace RobotPG.Messaging;

/// <summary>
/// A broker host name that does not resolve can never connect: saying so at once beats the
/// connection timeout's ten seconds of silence and a socket error naming "Unspecified/x:1883".
/// </summary>
public static class BrokerHostCheck
{
    /// <summary>Null when <paramref name="host"/> is an IP address or resolves; else one line saying it does not.</summary>
    public static string? Problem(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (IPAddress.TryParse(host, out _)) return null;
        try
        {
            return Dns.GetHostAddresses(host).Length > 0 ? null : $"broker host '{host}' has no address";
        }
        catch (SocketException e)
        {
            return $"broker host '{host}' does not resolve ({e.SocketErrorCode})";
        }
    }
}
