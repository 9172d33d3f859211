using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace RobotPG.Messaging.Tests;

/// <summary>
/// A scripted MQTT 3.1.1 broker for one test on 127.0.0.1:0: the test thread accepts the client's connections and
/// reads and writes each packet itself, so it can check the bytes a client sends and inject what a broker may do.
/// </summary>
internal sealed class FakeMqttBroker : IDisposable
{
    /// <summary>Bound on every wait: a test that fails waits this long, one that passes never does.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public FakeMqttBroker() => _listener.Start();

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The client's next connection.</summary>
    public FakeMqttSession Accept()
    {
        var accept = _listener.AcceptSocketAsync();
        Assert.True(accept.Wait(Timeout), "the client did not connect");
        return new FakeMqttSession(accept.Result);
    }

    public void Dispose() => _listener.Stop();

    /// <summary>A PUBLISH packet written independently of the code under test (QoS 0 unless <paramref name="type"/> says otherwise).</summary>
    public static byte[] Publish(string topic, ReadOnlySpan<byte> payload, byte type = 0x30, ushort? packetId = null)
    {
        var body = new List<byte>();
        byte[] t = Encoding.UTF8.GetBytes(topic);
        body.Add((byte)(t.Length >> 8));
        body.Add((byte)t.Length);
        body.AddRange(t);
        if (packetId is { } id)
        {
            body.Add((byte)(id >> 8));
            body.Add((byte)id);
        }
        body.AddRange(payload.ToArray());
        return [type, .. RemainingLength(body.Count), .. body];
    }

    /// <summary>MQTT's variable-length integer: 7 bits a byte, least significant first, high bit = more follow.</summary>
    public static byte[] RemainingLength(int value)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(value % 128);
            value /= 128;
            if (value > 0) b |= 0x80;
            bytes.Add(b);
        }
        while (value > 0);
        return [.. bytes];
    }
}

/// <summary>One accepted connection of <see cref="FakeMqttBroker"/>.</summary>
internal sealed class FakeMqttSession : IDisposable
{
    public static readonly byte[] ConnAckAccepted = [0x20, 0x02, 0x00, 0x00];
    public static readonly byte[] SubAckQoS0 = [0x90, 0x03, 0x00, 0x01, 0x00];
    public static readonly byte[] PingReq = [0xC0, 0x00];
    public static readonly byte[] PingResp = [0xD0, 0x00];
    public static readonly byte[] Disconnect = [0xE0, 0x00];

    private readonly Socket _socket;

    public FakeMqttSession(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
        _socket.ReceiveTimeout = (int)FakeMqttBroker.Timeout.TotalMilliseconds;
    }

    /// <summary>The next whole packet as sent, fixed header included; null when the client closed (FIN or reset).</summary>
    public byte[]? ReadPacket()
    {
        var first = new byte[1];
        if (!TryReceive(first)) return null;
        var packet = new List<byte> { first[0] };
        int remaining = 0;
        for (int i = 0; ; i++)
        {
            Assert.True(TryReceive(first), "the client closed inside a fixed header");
            packet.Add(first[0]);
            remaining |= (first[0] & 0x7F) << (7 * i);
            if ((first[0] & 0x80) == 0) break;
            Assert.True(i < 3, "a remaining length longer than 4 bytes");
        }
        var body = new byte[remaining];
        Assert.True(TryReceive(body), "the client closed inside a packet");
        packet.AddRange(body);
        return [.. packet];
    }

    /// <summary>Reads CONNECT, accepts it, reads SUBSCRIBE, grants QoS 0; returns both packets as sent.</summary>
    public (byte[] Connect, byte[] Subscribe) Handshake()
    {
        var connect = ReadPacket();
        Assert.NotNull(connect);
        Assert.Equal(0x10, connect[0]);
        Write(ConnAckAccepted);
        var subscribe = ReadPacket();
        Assert.NotNull(subscribe);
        Assert.Equal(0x82, subscribe[0]);
        Write(SubAckQoS0);
        return (connect, subscribe);
    }

    public void Write(params byte[] bytes) => _socket.Send(bytes);

    /// <summary>One socket write per byte (no Nagle): the client's reads see the packet in pieces.</summary>
    public void WriteBytewise(byte[] bytes)
    {
        foreach (byte b in bytes) _socket.Send([b]);
    }

    /// <summary>Every packet the client still sends until it closes the connection (a client that never closes fails the read's timeout).</summary>
    public List<byte[]> ReadToEnd()
    {
        var packets = new List<byte[]>();
        while (ReadPacket() is { } packet) packets.Add(packet);
        return packets;
    }

    private bool TryReceive(byte[] buffer)
    {
        int got = 0;
        while (got < buffer.Length)
        {
            int n;
            try
            {
                n = _socket.Receive(buffer, got, buffer.Length - got, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                n = 0;
            }
            if (n == 0)
            {
                Assert.True(got == 0, "the client closed inside a packet");
                return false;
            }
            got += n;
        }
        return true;
    }

    public void Dispose() => _socket.Dispose();
}
