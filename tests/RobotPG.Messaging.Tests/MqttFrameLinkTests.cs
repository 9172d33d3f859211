using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Xunit;

namespace RobotPG.Messaging.Tests;

/// <summary>
/// <see cref="MqttFrameLink"/> against a scripted broker (exact bytes both ways, every fault a broker can inject), the
/// embedded broker and a real mosquitto (round trips of exact bytes, TLS, credentials), its allocations and its shutdown.
/// Each test names the one-line bug it catches.
/// </summary>
public class MqttFrameLinkTests
{
    private const string SensorTopic = "robotpg/bb/sim/sensors";     // 22 bytes: the link subscribes to it
    private const string ActuatorTopic = "robotpg/bb/sim/actuators"; // 24 bytes: the link publishes on it
    private const string ClientId = "bb-frames";
    private static readonly TimeSpan Timeout = FakeMqttBroker.Timeout;

    private static readonly MqttFrameLinkOptions Quick = new()
    {
        MinReconnectDelay = TimeSpan.FromMilliseconds(20),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(100),
    };

    private static MqttFrameLink Link(int port, FrameSink sink, MqttFrameLinkOptions? options = null, string? user = null, string? password = null) =>
        new(new MqttEndpoint("127.0.0.1", port, ClientId, user, password), SensorTopic, ActuatorTopic, sink.Handle, options ?? Quick);

    private static string Hex(string text) => Convert.ToHexString(Encoding.UTF8.GetBytes(text));

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The SUBSCRIBE every connection must send: packet id 1, the sensor topic, QoS 0.</summary>
    private static readonly string ExpectedSubscribe = "821B" + "0001" + "0016" + Hex(SensorTopic) + "00";

    /// <summary>Copies of what the handler is given (the span lives only during the call) and the thread it ran on.</summary>
    private sealed class FrameSink
    {
        private readonly BlockingCollection<byte[]> _frames = [];

        public Thread? Thread { get; private set; }

        public void Handle(ReadOnlySpan<byte> payload)
        {
            Thread = System.Threading.Thread.CurrentThread;
            _frames.Add(payload.ToArray());
        }

        public byte[] Next()
        {
            Assert.True(_frames.TryTake(out var frame, Timeout), "no frame reached the handler");
            return frame!;
        }

        public int Count => _frames.Count;
    }

    /// <summary>Waits for a condition the link reaches on its own threads (no event exposes it), bounded.</summary>
    private static void Eventually(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < Timeout, what);
            Thread.Sleep(2);
        }
    }

    /// <summary>Starts <paramref name="link"/> against <paramref name="broker"/>, completes its handshake and returns the session.</summary>
    private static FakeMqttSession Connected(MqttFrameLink link, FakeMqttBroker broker)
    {
        link.Start();
        var session = broker.Accept();
        session.Handshake();
        Assert.True(link.WaitConnected(Timeout), link.LastError);
        return session;
    }

    // ---- What the link sends -------------------------------------------------------------------------------------

    [Theory]
    // Catches: protocol level 3 (MQTT 3.1) or a wrong protocol name; the clean-session bit missing; the keep-alive in
    // little-endian or milliseconds (300 s = 0x012C); a password flag or string without a user name (forbidden by
    // MQTT 3.1.1); a string without its 2-byte length; the remaining length counted without the payload.
    [InlineData("bb", "s3cret", 300, "1021" + "00044D51545404C2012C" + "0009" + "62622D6672616D6573" + "0002" + "6262" + "0006" + "733363726574")]
    [InlineData(null, null, 10, "1015" + "00044D5154540402000A" + "0009" + "62622D6672616D6573")]
    [InlineData("bb", null, 10, "1019" + "00044D5154540482000A" + "0009" + "62622D6672616D6573" + "0002" + "6262")]
    [InlineData(null, "s3cret", 10, "1015" + "00044D5154540402000A" + "0009" + "62622D6672616D6573")]
    // Keep-alive 0 is MQTT's "off" (a config's keepAliveSeconds: 0): it must not become 1 s, or the broker drops a
    // link that was told not to ping.
    [InlineData(null, null, 0, "1015" + "00044D51545404020000" + "0009" + "62622D6672616D6573")]
    public void ConnectAndSubscribeCarryExactlyTheseBytes(string? user, string? password, int keepAliveSeconds, string expectedConnect)
    {
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink(), Quick with { KeepAlive = TimeSpan.FromSeconds(keepAliveSeconds) }, user, password);
        link.Start();
        using var session = broker.Accept();
        var (connect, subscribe) = session.Handshake();
        Assert.Equal(expectedConnect, Convert.ToHexString(connect));
        Assert.Equal(ExpectedSubscribe, Convert.ToHexString(subscribe));
        Assert.True(link.WaitConnected(Timeout), link.LastError);
        Assert.Equal(1, link.Connects);
    }

    [Theory]
    // Remaining length = 2 + 24 (topic) + payload. Catches: a 1-byte length past 127 (101 → 0x7F is the last one-byte
    // length, 102 → 0x80 0x01 the first two-byte one), the continuation bit on the wrong byte, big-endian length bytes,
    // a header left-aligned while the payload is right-aligned (a gap or overlap of bytes on the wire).
    [InlineData(1, "1B")]
    [InlineData(101, "7F")]
    [InlineData(102, "8001")]
    [InlineData(456, "E203")]
    [InlineData(8192, "9A40")]
    public void APublishCarriesExactlyTheHeaderTopicAndPayload(int length, string remainingLength)
    {
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink());
        using var session = Connected(link, broker);
        var payload = Pattern(length, length);
        Assert.True(link.TryPublish(payload));
        Assert.Equal("30" + remainingLength + "0018" + Hex(ActuatorTopic) + Convert.ToHexString(payload), Convert.ToHexString(session.ReadPacket()!));
        // A shorter frame after a longer one: nothing of the longer one's header or payload may remain
        // (catches a header start or length kept from the previous publish).
        Assert.True(link.TryPublish([0x5A]));
        Assert.Equal("301B0018" + Hex(ActuatorTopic) + "5A", Convert.ToHexString(session.ReadPacket()!));
        Assert.Equal(2, link.Published);
        Assert.Equal(0, link.Dropped);
    }

    [Fact]
    public void APublishLargerThanAFrameIsRefusedCountedAndNeverSent()
    {
        // Catches: the length check missing or off by one (8193 bytes overrunning the send buffer, or sent).
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink());
        using var session = Connected(link, broker);
        Assert.False(link.TryPublish(new byte[FrameFormat.MaxFrameLength + 1]));
        Assert.Equal(1, link.Dropped);
        Assert.True(link.TryPublish([7]));
        // The next thing on the wire is the small frame: the refused one sent nothing at all.
        Assert.Equal("301B0018" + Hex(ActuatorTopic) + "07", Convert.ToHexString(session.ReadPacket()!));
        Assert.Equal(1, link.Published);
        Assert.True(link.IsConnected);
    }

    [Fact]
    public void APublishWhileDisconnectedIsRefusedAndCounted()
    {
        // Catches: a publish written to no stream (NullReferenceException on the caller's thread) or counted as published.
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink());
        Assert.False(link.TryPublish([1, 2, 3]));
        Assert.Equal(1, link.Dropped);
        Assert.Equal(0, link.Published);
    }

    // ---- What the link receives ----------------------------------------------------------------------------------

    [Fact]
    public void FramesInPiecesAndSeveralInOneWriteReachTheHandlerIntactAndInOrder()
    {
        // Catches: a packet parsed before all of it arrived (a remaining length split over two reads, a payload cut
        // short), the second of two packets in one read lost, the receive buffer not compacted when a frame straddles
        // its end (bytes overwritten or the read given no room), a payload handed on with its topic.
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = Link(broker.Port, sink);
        using var session = Connected(link, broker);
        int[] sizes = [1, 103, 104, 456, FrameFormat.MaxFrameLength]; // remaining length 127 and 128 at 103 and 104
        foreach (int size in sizes)
        {
            var payload = Pattern(size, size);
            session.WriteBytewise(FakeMqttBroker.Publish(SensorTopic, payload));
            Assert.Equal(payload, sink.Next());
        }
        // Two frames in one write, then a near-full frame and a full one in one write: the second straddles the end of
        // the receive buffer (8221 bytes) after the first is consumed.
        var a = Pattern(456, 1);
        var b = Pattern(1, 2);
        session.Write([.. FakeMqttBroker.Publish(SensorTopic, a), .. FakeMqttBroker.Publish(SensorTopic, b)]);
        Assert.Equal(a, sink.Next());
        Assert.Equal(b, sink.Next());
        var c = Pattern(8000, 3);
        var d = Pattern(FrameFormat.MaxFrameLength, 4);
        session.Write([.. FakeMqttBroker.Publish(SensorTopic, c), .. FakeMqttBroker.Publish(SensorTopic, d)]);
        Assert.Equal(c, sink.Next());
        Assert.Equal(d, sink.Next());
        // A frame cut in the middle of its remaining length, the rest together with the next frame.
        var e = FakeMqttBroker.Publish(SensorTopic, Pattern(300, 5));
        var f = FakeMqttBroker.Publish(SensorTopic, Pattern(2, 6));
        session.Write(e[..2]);
        session.Write([.. e[2..], .. f]);
        Assert.Equal(Pattern(300, 5), sink.Next());
        Assert.Equal(Pattern(2, 6), sink.Next());
        Assert.Equal(sizes.Length + 6, link.Received);
        Assert.Equal(0, link.Oversized);
        Assert.Equal(1, link.Connects);
    }

    [Theory]
    // 8193: one byte more than a frame, yet it fits the receive buffer (whose header room is 5 bytes, this header 3):
    // catches an oversize check on the buffer alone, which hands the handler a payload no frame can be.
    [InlineData(FrameFormat.MaxFrameLength + 1)]
    // 20000: larger than the receive buffer, arriving over several reads: catches a skip that loses its count across
    // reads (the rest of the big packet parsed as packets) or reads the big packet into the buffer.
    [InlineData(20000)]
    public void APacketLargerThanAnyFrameIsSkippedCountedAndTheNextFrameDelivered(int size)
    {
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = Link(broker.Port, sink);
        using var session = Connected(link, broker);
        var good = Pattern(456, 9);
        session.Write([.. FakeMqttBroker.Publish(SensorTopic, Pattern(size, 8)), .. FakeMqttBroker.Publish(SensorTopic, good)]);
        Assert.Equal(good, sink.Next());
        Assert.Equal(1, link.Oversized);
        Assert.Equal(1, link.Received);
        Assert.Equal(1, link.Connects);
        Assert.True(link.IsConnected);
    }

    [Fact]
    public void MessagesOnOtherTopicsAreIgnoredAndCounted()
    {
        // Catches: a prefix match (sensors/extra, sensor), a match on the length alone (another robot's topic of the
        // same length), a message on another topic handed on.
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = Link(broker.Port, sink);
        using var session = Connected(link, broker);
        var good = Pattern(456, 10);
        session.Write([
            .. FakeMqttBroker.Publish(SensorTopic + "/extra", [1]),
            .. FakeMqttBroker.Publish("robotpg/bb/sim/sensor", [2]),
            .. FakeMqttBroker.Publish("robotpg/xy/sim/sensors", [3]),
            .. FakeMqttBroker.Publish(SensorTopic, good),
        ]);
        Assert.Equal(good, sink.Next());
        Assert.Equal(3, link.Ignored);
        Assert.Equal(1, link.Received);
        Assert.Equal(0, sink.Count);
    }

    [Fact]
    public void RetainedQoS0MessagesAreFrames()
    {
        // Catches: the retain bit (0x31) read as part of the packet type, which would drop the connection.
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = Link(broker.Port, sink);
        using var session = Connected(link, broker);
        session.Write(FakeMqttBroker.Publish(SensorTopic, [4, 5, 6], type: 0x31));
        Assert.Equal(new byte[] { 4, 5, 6 }, sink.Next());
        Assert.True(link.IsConnected);
    }

    // ---- Faults: the link drops the connection, says why, reconnects and resubscribes -----------------------------

    public static TheoryData<string, byte[], string> ProtocolViolations => new()
    {
        // A QoS 1/2 PUBLISH carries a packet id the link would take for payload: it must not parse it as a frame.
        { "QoS 1 publish", FakeMqttBroker.Publish(SensorTopic, [1, 2, 3], type: 0x32, packetId: 7), "QoS 1" },
        { "QoS 2 publish", FakeMqttBroker.Publish(SensorTopic, [1, 2, 3], type: 0x34, packetId: 7), "QoS 2" },
        { "reserved type 15", [0xF0, 0x00], "0xF0" },
        { "PUBACK", [0x40, 0x02, 0x00, 0x01], "0x40" },
        { "PINGRESP with a body", [0xD0, 0x01, 0x00], "0xD0" },
        { "5-byte remaining length", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "longer than 4 bytes" },
        { "PUBLISH shorter than its topic", [0x30, 0x03, 0x00, 0x16, 0x72], "shorter than its topic" },
    };

    [Theory]
    [MemberData(nameof(ProtocolViolations))]
    // Catches: a violation handed on or ignored (the stream is then out of step), LastError not saying why, no
    // reconnect, a reconnect without the subscription, bytes of the old connection parsed on the new one.
    public void AProtocolViolationDropsTheConnectionWhichComesBackSubscribed(string what, byte[] packet, string expectedError)
    {
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = Link(broker.Port, sink);
        link.Start();
        using var first = broker.Accept();
        var (connect, subscribe) = first.Handshake();
        Assert.True(link.WaitConnected(Timeout));
        // A good frame after the violation, in the same write: it must not be handed on from the dead connection.
        first.Write([.. packet, .. FakeMqttBroker.Publish(SensorTopic, [0xEE])]);
        Assert.Empty(first.ReadToEnd()); // the link closes without sending anything more
        using var second = broker.Accept();
        var (connect2, subscribe2) = second.Handshake();
        Assert.Equal(connect, connect2);
        Assert.Equal(subscribe, subscribe2);
        Assert.True(link.WaitConnected(Timeout), what);
        Assert.Equal(2, link.Connects);
        Assert.Contains(expectedError, link.LastError);
        var good = Pattern(456, 11);
        second.Write(FakeMqttBroker.Publish(SensorTopic, good));
        Assert.Equal(good, sink.Next());
        Assert.Equal(1, link.Received);
    }

    [Theory]
    // Catches: a refusal taken for success (IsConnected, Connects counted, SUBSCRIBE sent anyway), a refusal that does
    // not say which, the password in the message, no retry after a refusal.
    [InlineData(1, "unacceptable protocol version")]
    [InlineData(2, "client id rejected")]
    [InlineData(3, "server unavailable")]
    [InlineData(4, "bad user name or password")]
    [InlineData(5, "not authorised")]
    public void ARefusedConnectionSaysWhyNeverCountsAsConnectedAndKeepsTheSecret(byte code, string expectedError)
    {
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink(), user: "bb", password: "s3cret");
        link.Start();
        using (var first = broker.Accept())
        {
            Assert.Equal(0x10, first.ReadPacket()![0]);
            first.Write(0x20, 0x02, 0x00, code);
            Assert.Empty(first.ReadToEnd()); // no SUBSCRIBE on a refused connection
        }
        using var retry = broker.Accept(); // it tries again: the error was recorded before it closed the first
        Assert.Contains(expectedError, link.LastError);
        Assert.Contains(ClientId, link.LastError);
        Assert.DoesNotContain("s3cret", link.LastError);
        Assert.Equal(0, link.Connects);
        Assert.False(link.IsConnected);
        Assert.False(link.WaitConnected(TimeSpan.Zero));
    }

    [Fact]
    public void AnswersOtherThanConnAckAreRefused()
    {
        // Catches: any packet taken for CONNACK (the link would then wait for SUBACK on a broker that never accepted it).
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink());
        link.Start();
        using (var first = broker.Accept())
        {
            first.ReadPacket();
            first.Write(FakeMqttSession.SubAckQoS0);
            Assert.Empty(first.ReadToEnd());
        }
        using var retry = broker.Accept();
        Assert.Contains("not CONNACK", link.LastError);
        Assert.Equal(0, link.Connects);
    }

    [Fact]
    public void ARefusedSubscriptionNamesTheTopicAndIsNotAConnection()
    {
        // Catches: SUBACK 0x80 (failure) taken as granted: connected, yet no frame would ever come.
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink());
        link.Start();
        using (var first = broker.Accept())
        {
            first.ReadPacket();
            first.Write(FakeMqttSession.ConnAckAccepted);
            Assert.Equal(ExpectedSubscribe, Convert.ToHexString(first.ReadPacket()!));
            first.Write(0x90, 0x03, 0x00, 0x01, 0x80);
            Assert.Empty(first.ReadToEnd());
        }
        using var retry = broker.Accept();
        Assert.Contains(SensorTopic, link.LastError);
        Assert.Contains("0x80", link.LastError);
        Assert.Equal(0, link.Connects);
        Assert.False(link.IsConnected);
    }

    [Fact]
    public void ABrokerClosingTheConnectionIsReconnectedAndResubscribed()
    {
        // Catches: end of stream (read returns 0) taken for an empty packet in a busy loop, or no reconnect.
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = Link(broker.Port, sink);
        var first = Connected(link, broker);
        first.Dispose();
        using var second = broker.Accept();
        var (_, subscribe) = second.Handshake();
        Assert.Equal(ExpectedSubscribe, Convert.ToHexString(subscribe));
        Assert.True(link.WaitConnected(Timeout));
        Assert.Equal(2, link.Connects);
        Assert.Contains("closed the connection", link.LastError);
        var good = Pattern(456, 12);
        second.Write(FakeMqttBroker.Publish(SensorTopic, good));
        Assert.Equal(good, sink.Next());
        Assert.True(link.TryPublish([1]));
        Assert.Equal("301B0018" + Hex(ActuatorTopic) + "01", Convert.ToHexString(second.ReadPacket()!));
    }

    [Fact]
    public void ABrokerThatNeverAnswersPingsIsDroppedAfterOneAndAHalfKeepAlivesAndReconnected()
    {
        // Catches: no PINGREQ while idle, no watchdog on the broker's silence (a dead broker behind a live TCP
        // connection would hold the link forever), LastError not saying so.
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink(), Quick with { KeepAlive = TimeSpan.FromSeconds(1) });
        var first = Connected(link, broker);
        var sent = first.ReadToEnd(); // PINGREQs until the link gives up on the broker and closes
        first.Dispose();
        Assert.NotEmpty(sent);
        Assert.All(sent, p => Assert.Equal(FakeMqttSession.PingReq, p));
        using var second = broker.Accept();
        second.Handshake();
        Assert.True(link.WaitConnected(Timeout));
        Assert.Equal(2, link.Connects);
        Assert.Contains("nothing from the broker", link.LastError);
    }

    [Theory]
    // Publishing without pause while nothing comes back (the simulator republishing an unanswered tick while no
    // controller runs): catches a PINGREQ sent only after KeepAlive/2 without a send, which never comes here, so the
    // watchdog drops a healthy connection every 1.5 keep-alives.
    [InlineData(true)]
    // Receiving without pause and never publishing: catches a PINGREQ only after KeepAlive/2 without a receive (the
    // broker, hearing nothing from us for 1.5 keep-alives, would drop us).
    [InlineData(false)]
    public void AOneWayStreamStillPingsAndAnsweredPingsKeepTheConnection(bool publishing)
    {
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink(), Quick with { KeepAlive = TimeSpan.FromSeconds(1) });
        using var session = Connected(link, broker);
        using var stop = new CancellationTokenSource();
        var traffic = Task.Run(() =>
        {
            var frame = FakeMqttBroker.Publish(SensorTopic, [1]);
            while (!stop.IsCancellationRequested)
            {
                if (publishing) link.TryPublish([1]);
                else session.Write(frame);
                Thread.Sleep(20);
            }
        });
        int pings = 0;
        // Four answered pings span two keep-alives: past the 1.5 keep-alives after which a silent broker is dropped.
        while (pings < 4)
        {
            var packet = session.ReadPacket();
            Assert.True(packet is not null, $"the link closed the connection after {pings} pings: {link.LastError}");
            if (packet[0] == 0x30) continue;
            Assert.Equal(FakeMqttSession.PingReq, packet);
            pings++;
            session.Write(FakeMqttSession.PingResp);
        }
        stop.Cancel();
        traffic.Wait(Timeout);
        Assert.Equal(1, link.Connects);
        Assert.True(link.IsConnected, link.LastError);
    }

    [Fact]
    public void AThrowingHandlerIsCountedAndTheConnectionSurvives()
    {
        // Catches: a handler's exception escaping the reader thread (it would end the process) or dropping the connection.
        using var broker = new FakeMqttBroker();
        int calls = 0;
        var frames = new BlockingCollection<byte[]>();
        using var link = new MqttFrameLink(new MqttEndpoint("127.0.0.1", broker.Port, ClientId), SensorTopic, ActuatorTopic, payload =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("a bad frame");
            frames.Add(payload.ToArray());
        }, Quick);
        link.Start();
        using var session = broker.Accept();
        session.Handshake();
        Assert.True(link.WaitConnected(Timeout));
        session.Write([.. FakeMqttBroker.Publish(SensorTopic, [1]), .. FakeMqttBroker.Publish(SensorTopic, [2])]);
        Assert.True(frames.TryTake(out var second, Timeout));
        Assert.Equal(new byte[] { 2 }, second);
        Assert.Equal(1, link.HandlerFailures);
        Assert.Contains("a bad frame", link.LastError);
        Assert.Equal(1, link.Connects);
        Assert.True(link.IsConnected);
    }

    [Fact]
    public void AnUnreadableCaFileIsReportedNotThrownOnTheReaderThread()
    {
        // Catches: an exception outside the reader's short list (CryptographicException from a bad CA file) escaping
        // the reader thread, which ends the whole process instead of reporting and retrying.
        string caFile = Path.Combine(Path.GetTempPath(), $"robotpg-framelink-bad-ca-{Guid.NewGuid():N}.crt");
        File.WriteAllText(caFile, "not a certificate\n");
        try
        {
            using var broker = new FakeMqttBroker();
            using var link = new MqttFrameLink(new MqttEndpoint("127.0.0.1", broker.Port, ClientId) { UseTls = true, CaFile = caFile },
                SensorTopic, ActuatorTopic, _ => { }, Quick);
            link.Start();
            using (broker.Accept())
            {
                // It got as far as TCP; the TLS options fail before the handshake: it closes and tries again.
            }
            using var retry = broker.Accept();
            Assert.NotNull(link.LastError);
            Assert.Equal(0, link.Connects);
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    // ---- Shutdown ---------------------------------------------------------------------------------------------------

    [Fact]
    public void DisposeSaysDisconnectClosesAndEndsTheReader()
    {
        // Catches: no DISCONNECT (the broker would publish a will, and logs an unclean exit), the reader thread left
        // running (a handler called after Dispose), a socket left open.
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        var link = Link(broker.Port, sink);
        using var session = Connected(link, broker);
        session.Write(FakeMqttBroker.Publish(SensorTopic, [1]));
        sink.Next();
        var reader = sink.Thread!;
        link.Dispose();
        Assert.Equal(FakeMqttSession.Disconnect, Assert.Single(session.ReadToEnd()));
        Assert.False(reader.IsAlive);
        Assert.False(link.IsConnected);
        Assert.False(link.TryPublish([1]));
    }

    [Fact]
    public void DisposeDuringTheReconnectWaitReturnsAtOnce()
    {
        // Catches: a reconnect wait that is a sleep (Dispose would wait out the minute's backoff).
        int port;
        using (var probe = new FakeMqttBroker()) port = probe.Port; // closed again: connecting is refused
        var link = Link(port, new FrameSink(), Quick with { MinReconnectDelay = TimeSpan.FromMinutes(1), MaxReconnectDelay = TimeSpan.FromMinutes(1) });
        link.Start();
        Eventually(() => link.LastError is not null, "the refused connection was not reported");
        Assert.Equal(0, link.Connects);
        var dispose = Task.Run(link.Dispose);
        Assert.True(dispose.Wait(Timeout), "Dispose waited for the reconnect delay");
    }

    [Fact]
    public void DisposeWhileTheTcpConnectIsPendingReturnsAtOnce()
    {
        // A listener whose accept queue is full: the kernel drops further SYNs, so the link's connect hangs in SYN_SENT.
        // Catches: Dispose that waits for the connect timeout (a minute here) because nothing cancels the connect.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        // listen(0) holds one connection in the accept queue: this one fills it.
        using var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        filler.Connect(IPAddress.Loopback, port);
        var link = Link(port, new FrameSink(), Quick with { ConnectTimeout = TimeSpan.FromMinutes(1) });
        link.Start();
        Eventually(() => SynSentTo(port) > 0, "the link's connect did not hang in SYN_SENT");
        var dispose = Task.Run(link.Dispose);
        Assert.True(dispose.Wait(Timeout), "Dispose waited for the connect timeout");
        Assert.Equal(0, link.Connects);
    }

    [Fact]
    public void AConnectNobodyAnswersTimesOutAndSaysSo()
    {
        // Catches: a connect without a deadline (Linux gives up after about two minutes of SYNs), a timeout reported as
        // something else. The same full accept queue as above.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        filler.Connect(IPAddress.Loopback, port);
        using var link = Link(port, new FrameSink(), Quick with { ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        link.Start();
        Eventually(() => link.LastError is not null, "the hanging connect was not reported");
        Assert.Equal($"no connection to 127.0.0.1:{port} within 0.3 s", link.LastError);
        Assert.Equal(0, link.Connects);
    }

    [Fact]
    public void ABrokerThatNeverAnswersConnectTimesOutSaysSoAndIsTriedAgain()
    {
        // Catches: the handshake read without the connect deadline (a broker that accepts TCP and then says nothing
        // would hold the link forever), a timeout that does not say so.
        using var broker = new FakeMqttBroker();
        using var link = Link(broker.Port, new FrameSink(), Quick with { ConnectTimeout = TimeSpan.FromMilliseconds(300) });
        link.Start();
        using (var first = broker.Accept())
        {
            Assert.Equal(0x10, first.ReadPacket()![0]);
            Assert.Empty(first.ReadToEnd()); // no answer: the link gives up and closes
        }
        using var retry = broker.Accept();
        Assert.Contains("did not complete the handshake", link.LastError);
        Assert.Contains("within 0.3 s", link.LastError);
        Assert.Equal(0, link.Connects);
    }

    /// <summary>Local TCP sockets in SYN_SENT to 127.0.0.1:<paramref name="port"/> (IPv4 and dual-mode), from /proc/net.</summary>
    private static int SynSentTo(int port)
    {
        int count = 0;
        foreach (string file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(file)) continue;
            foreach (string line in File.ReadLines(file).Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f[3] != "02") continue; // TCP_SYN_SENT
                string remote = f[2];
                if (int.Parse(remote[(remote.IndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port) count++;
            }
        }
        return count;
    }

    [Fact]
    public void DisposeFromTheHandlerDoesNotWaitForItself()
    {
        // Catches: Dispose joining the reader thread from the reader thread (the handler would never return).
        using var broker = new FakeMqttBroker();
        using var disposed = new ManualResetEventSlim(false);
        MqttFrameLink? link = null;
        link = new MqttFrameLink(new MqttEndpoint("127.0.0.1", broker.Port, ClientId), SensorTopic, ActuatorTopic, _ =>
        {
            link!.Dispose();
            disposed.Set();
        }, Quick);
        using var session = Connected(link, broker);
        session.Write(FakeMqttBroker.Publish(SensorTopic, [1]));
        Assert.True(disposed.Wait(Timeout), "Dispose in the handler did not return");
        Assert.Equal(FakeMqttSession.Disconnect, Assert.Single(session.ReadToEnd()));
    }

    // ---- Pumped mode: no reader thread, the caller reads ------------------------------------------------------------

    private static MqttFrameLink PumpedLink(int port, FrameHandler handler, MqttFrameLinkOptions? options = null, MqttEndpoint? endpoint = null) =>
        new(endpoint ?? new MqttEndpoint("127.0.0.1", port, ClientId), SensorTopic, ActuatorTopic, handler, options ?? Quick, pumped: true);

    [Fact]
    public async Task PumpedRoundTripsCarryExactBytesAndAllocateNothingOnTheCallersThread()
    {
        // The lockstep controller's path: publish an answer, pump the next tick, on one thread. Catches: a pump that
        // returns before the handler saw a frame or hands it a wrong slice, and any allocation per publish or pump
        // (the socket made non-blocking by an async connect allocates on every read that waits).
        await using var broker = await EmbeddedBroker.StartAsync();
        MqttFrameLink? sim = null;
        using var simLink = sim = new MqttFrameLink(new MqttEndpoint(broker.Host, broker.Port, "bb-sim-frames"), ActuatorTopic, SensorTopic,
            payload => sim!.TryPublish(payload), Quick);
        sim.Start();
        Assert.True(sim.WaitConnected(Timeout), sim.LastError);
        byte[] expected = [];
        long calls = 0, wrong = 0;
        using var controller = PumpedLink(broker.Port, payload =>
        {
            calls++;
            if (!payload.SequenceEqual(expected)) wrong++;
        });
        controller.Start();
        Assert.True(controller.WaitConnected(Timeout), controller.LastError);
        foreach (int size in new[] { 1, 101, 102, 103, 104, 456, FrameFormat.MaxFrameLength })
        {
            expected = Pattern(size, size);
            Assert.True(controller.TryPublish(expected));
            Assert.True(controller.Pump(Timeout), controller.LastError);
        }
        Assert.Equal(7, calls);
        Assert.Equal(0, wrong);
        expected = Pattern(456, 14);
        for (int i = 0; i < 200; i++)
        {
            Assert.True(controller.TryPublish(expected));
            Assert.True(controller.Pump(Timeout), controller.LastError);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        int failed = 0;
        for (int i = 0; i < 1000; i++)
        {
            if (!controller.TryPublish(expected) || !controller.Pump(Timeout)) failed++;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, failed);
        Assert.Equal(0, allocated);
        Assert.Equal(1207, calls);
        Assert.Equal(0, wrong);
        Assert.Equal(1, controller.Connects);
    }

    [Fact]
    public void APumpWithoutAFrameRenewsTheConnectionAndTheNextPumpReconnects()
    {
        // Catches: a pump that blocks past its timeout, returns true without a frame, or keeps a stream whose read
        // timed out (unusable under TLS); a next pump that does not reconnect and resubscribe.
        using var broker = new FakeMqttBroker();
        var sink = new FrameSink();
        using var link = PumpedLink(broker.Port, sink.Handle);
        link.Start();
        var connecting = Task.Run(() => link.WaitConnected(Timeout)); // pumped: connects on the caller's thread
        using (var first = broker.Accept())
        {
            first.Handshake();
            Assert.True(connecting.Wait(Timeout) && connecting.Result, link.LastError);
            Assert.False(link.Pump(TimeSpan.FromMilliseconds(200)));
            Assert.Equal("no frame within 0.2 s: connection renewed", link.LastError);
            Assert.Empty(first.ReadToEnd());
        }
        var pump = Task.Run(() => link.Pump(Timeout));
        using var second = broker.Accept();
        var (_, subscribe) = second.Handshake();
        Assert.Equal(ExpectedSubscribe, Convert.ToHexString(subscribe));
        var frame = Pattern(456, 15);
        second.Write(FakeMqttBroker.Publish(SensorTopic, frame));
        Assert.True(pump.Wait(Timeout) && pump.Result, link.LastError);
        Assert.Equal(frame, sink.Next());
        Assert.Equal(2, link.Connects);
    }

    [Fact]
    public void DisposeWhileAnotherThreadPumpsEndsThePumpAndSaysDisconnect()
    {
        // Catches: a pump left blocked in its read for its whole timeout (a minute here) after Dispose (a Dispose that
        // closes without shutting the socket down), a pump that reconnects after Dispose, no DISCONNECT. (The pump may
        // not have reached its read when Dispose runs; then it must see the stop at once, also checked here.)
        using var broker = new FakeMqttBroker();
        var link = PumpedLink(broker.Port, _ => { });
        link.Start();
        var connecting = Task.Run(() => link.WaitConnected(Timeout));
        using var session = broker.Accept();
        session.Handshake();
        Assert.True(connecting.Wait(Timeout) && connecting.Result, link.LastError);
        using var pumping = new ManualResetEventSlim(false);
        var pump = Task.Run(() =>
        {
            pumping.Set();
            return link.Pump(TimeSpan.FromMinutes(1));
        });
        Assert.True(pumping.Wait(Timeout));
        link.Dispose();
        Assert.True(pump.Wait(Timeout), "the pump outlived Dispose");
        Assert.False(pump.Result);
        Assert.Equal(FakeMqttSession.Disconnect, Assert.Single(session.ReadToEnd()));
    }

    [Fact]
    public void APumpedLinkReportsAConnectFailureInsteadOfThrowingIntoTheCaller()
    {
        // Catches: an exception outside the connect's short list (CryptographicException from a bad CA file) thrown
        // out of WaitConnected or Pump into the control loop.
        string caFile = Path.Combine(Path.GetTempPath(), $"robotpg-framelink-bad-ca-{Guid.NewGuid():N}.crt");
        File.WriteAllText(caFile, "not a certificate\n");
        try
        {
            using var broker = new FakeMqttBroker();
            using var link = PumpedLink(broker.Port, _ => { }, endpoint: new MqttEndpoint("127.0.0.1", broker.Port, ClientId) { UseTls = true, CaFile = caFile });
            link.Start();
            Assert.False(link.WaitConnected(TimeSpan.FromMilliseconds(300)));
            Assert.NotNull(link.LastError);
            Assert.False(link.Pump(TimeSpan.FromMilliseconds(100)));
            Assert.Equal(0, link.Connects);
        }
        finally
        {
            File.Delete(caFile);
        }
    }

    // ---- Real brokers: exact bytes round trip ----------------------------------------------------------------------

    /// <summary>
    /// The controller's link publishes actuator frames; the simulator's link, subscribed to them, echoes each from its
    /// handler as a sensor frame, as the lockstep simulator answers on its reader thread. Both sides must see exactly
    /// the bytes sent, in order.
    /// </summary>
    private static void RoundTrip(string host, int port, Func<string, MqttEndpoint>? endpoint = null)
    {
        endpoint ??= id => new MqttEndpoint(host, port, id);
        // Sizes: 1; 101 and 102 put the actuator packet's remaining length at 127 and 128 (24-byte topic), 103 and 104
        // the sensor packet's (22-byte topic); 456 the balance-bot frame; 8192 the largest frame.
        int[] sizes = [1, 101, 102, 103, 104, 456, FrameFormat.MaxFrameLength];
        var atSim = new FrameSink();
        var atController = new FrameSink();
        MqttFrameLink? sim = null;
        using var simLink = sim = new MqttFrameLink(endpoint("bb-sim-frames"), ActuatorTopic, SensorTopic, payload =>
        {
            atSim.Handle(payload);
            sim!.TryPublish(payload); // a refusal is counted in Dropped, checked below
        }, Quick);
        using var controller = new MqttFrameLink(endpoint("bb-frames"), SensorTopic, ActuatorTopic, atController.Handle, Quick);
        sim.Start();
        controller.Start();
        Assert.True(sim.WaitConnected(Timeout), sim.LastError);
        Assert.True(controller.WaitConnected(Timeout), controller.LastError);
        var sent = sizes.Select((n, i) => Pattern(n, 100 + i)).ToArray();
        foreach (var frame in sent) Assert.True(controller.TryPublish(frame));
        foreach (var frame in sent) Assert.Equal(frame, atSim.Next());
        foreach (var frame in sent) Assert.Equal(frame, atController.Next());
        Assert.Equal(sizes.Length, sim.Received);
        Assert.Equal(sizes.Length, controller.Received);
        Assert.Equal(sizes.Length, sim.Published);
        Assert.Equal(0, sim.Ignored + controller.Ignored + sim.Oversized + controller.Oversized + sim.Dropped + controller.Dropped);
    }

    [Fact]
    public async Task ExactBytesRoundTripThroughTheEmbeddedBroker()
    {
        await using var broker = await EmbeddedBroker.StartAsync();
        RoundTrip(broker.Host, broker.Port);
    }

    [Fact]
    public void ExactBytesRoundTripThroughMosquitto()
    {
        using var mosquitto = MosquittoProcess.Start(Timeout);
        RoundTrip("127.0.0.1", mosquitto.Port);
        // mosquitto saw both clients subscribe with QoS 0 and leave cleanly (DISCONNECT, not a timeout or a protocol error).
        Eventually(() => mosquitto.Log().Contains("Client bb-frames disconnected.", StringComparison.Ordinal), "mosquitto did not log the link's clean disconnect: " + mosquitto.Log());
        string log = mosquitto.Log();
        Assert.Contains($"bb-frames 0 {SensorTopic}", log);
        Assert.Contains($"bb-sim-frames 0 {ActuatorTopic}", log);
        Assert.DoesNotContain("protocol error", log, StringComparison.OrdinalIgnoreCase);
    }

    // ---- TLS and credentials on the embedded broker --------------------------------------------------------------

    /// <summary>A CA, a broker certificate for 127.0.0.1 signed by it, and another CA, with the CAs as PEM files.</summary>
    private sealed class TestPki : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "rpg-framelink-tls-" + Guid.NewGuid().ToString("N"));

        public TestPki()
        {
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var caRequest = new CertificateRequest("CN=test ca", caKey, HashAlgorithmName.SHA256);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
            using var withKey = issued.CopyWithPrivateKey(serverKey);
            Server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
            using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var otherCa = new CertificateRequest("CN=other", otherKey, HashAlgorithmName.SHA256)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            Directory.CreateDirectory(_dir);
            CaFile = Path.Combine(_dir, "ca.crt");
            File.WriteAllText(CaFile, ca.ExportCertificatePem());
            OtherCaFile = Path.Combine(_dir, "other.crt");
            File.WriteAllText(OtherCaFile, otherCa.ExportCertificatePem());
        }

        public X509Certificate2 Server { get; }

        public string CaFile { get; }

        public string OtherCaFile { get; }

        public void Dispose()
        {
            Server.Dispose();
            Directory.Delete(_dir, true);
        }
    }

    [Fact]
    public async Task TlsConnectsWithTheBrokersCaAndNotWithAnother()
    {
        // Catches: the CA not applied (any certificate accepted, or the system store asked for a private CA), the host
        // name not checked, a refused certificate reported as something else.
        using var pki = new TestPki();
        await using var broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions { Certificate = pki.Server });
        using var untrusting = new MqttFrameLink(new MqttEndpoint(broker.Host, broker.Port, "u-frames") { UseTls = true, CaFile = pki.OtherCaFile },
            SensorTopic, ActuatorTopic, _ => { }, Quick);
        untrusting.Start();
        RoundTrip(broker.Host, broker.Port, id => new MqttEndpoint(broker.Host, broker.Port, id) { UseTls = true, CaFile = pki.CaFile });
        Eventually(() => untrusting.LastError is not null, "the refused certificate was not reported");
        Assert.Contains("certificate", untrusting.LastError);
        Assert.Equal(0, untrusting.Connects);
        Assert.False(untrusting.IsConnected);
    }

    [Fact]
    public async Task TheEmbeddedBrokersCredentialsAreSentAndAWrongPasswordIsRefused()
    {
        // Catches: credentials not sent (the right link refused too), a refusal not reported or carrying the password.
        await using var broker = await EmbeddedBroker.StartAsync(new EmbeddedBrokerOptions { UserName = "bb", Password = "s3cret" });
        using var wrong = new MqttFrameLink(new MqttEndpoint(broker.Host, broker.Port, "w-frames", "bb", "guess"), SensorTopic, ActuatorTopic, _ => { }, Quick);
        using var none = new MqttFrameLink(new MqttEndpoint(broker.Host, broker.Port, "n-frames"), SensorTopic, ActuatorTopic, _ => { }, Quick);
        wrong.Start();
        none.Start();
        RoundTrip(broker.Host, broker.Port, id => new MqttEndpoint(broker.Host, broker.Port, id, "bb", "s3cret"));
        Eventually(() => wrong.LastError is not null && none.LastError is not null, "the refusals were not reported");
        Assert.Contains("bad user name or password", wrong.LastError);
        Assert.DoesNotContain("guess", wrong.LastError);
        Assert.Equal(0, wrong.Connects);
        Assert.Equal(0, none.Connects);
    }

    // ---- Allocation --------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RoundTripsAllocateNothingOnThePublishingOrTheReaderThreads(bool tls)
    {
        // Catches: a per-publish allocation (a packet array, a boxed length, a lambda), a per-read one (a new buffer,
        // a payload copy, a topic string to compare), on either thread, once connected.
        using var pki = new TestPki();
        await using var broker = await EmbeddedBroker.StartAsync(tls ? new EmbeddedBrokerOptions { Certificate = pki.Server } : new EmbeddedBrokerOptions());
        MqttEndpoint Endpoint(string id) => new(broker.Host, broker.Port, id) { UseTls = tls, CaFile = tls ? pki.CaFile : null };
        var frame = Pattern(456, 13);
        long readerBytes = 0, measuredCalls = 0, wrongPayloads = 0, lastAtReader = 0;
        bool measuring = false;
        using var echoed = new SemaphoreSlim(0);
        MqttFrameLink? sim = null;
        using var simLink = sim = new MqttFrameLink(Endpoint("bb-sim-frames"), ActuatorTopic, SensorTopic, payload =>
        {
            sim!.TryPublish(payload);
        }, Quick);
        using var controller = new MqttFrameLink(Endpoint("bb-frames"), SensorTopic, ActuatorTopic, payload =>
        {
            // Between two calls on this thread: the read loop, the parse and this handler (nothing else runs on it).
            long now = GC.GetAllocatedBytesForCurrentThread();
            if (Volatile.Read(ref measuring))
            {
                if (lastAtReader != 0)
                {
                    readerBytes += now - lastAtReader;
                    measuredCalls++;
                }
                lastAtReader = now;
            }
            if (!payload.SequenceEqual(frame)) wrongPayloads++;
            echoed.Release();
        }, Quick);
        sim.Start();
        controller.Start();
        Assert.True(sim.WaitConnected(Timeout), sim.LastError);
        Assert.True(controller.WaitConnected(Timeout), controller.LastError);
        for (int i = 0; i < 200; i++)
        {
            Assert.True(controller.TryPublish(frame));
            Assert.True(echoed.Wait(Timeout));
        }
        Volatile.Write(ref measuring, true);
        long publisherBytes = 0;
        for (int i = 0; i < 1000; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool ok = controller.TryPublish(frame);
            publisherBytes += GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(ok);
            Assert.True(echoed.Wait(Timeout));
        }
        Assert.Equal(999, Volatile.Read(ref measuredCalls));
        Assert.True(publisherBytes == 0 && Volatile.Read(ref readerBytes) == 0,
            $"1000 round trips allocated {publisherBytes} B on the publishing thread, {Volatile.Read(ref readerBytes)} B on the reader thread");
        Assert.Equal(0, Volatile.Read(ref wrongPayloads));
        Assert.Equal(1, controller.Connects);
    }
}
