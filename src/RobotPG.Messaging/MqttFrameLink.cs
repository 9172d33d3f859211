using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using RobotPG.Messaging.Security;

namespace RobotPG.Messaging;

/// <summary>Called on the link's reader thread with each frame received; the payload is valid only during the call.</summary>
public delegate void FrameHandler(ReadOnlySpan<byte> payload);

/// <summary>Tuning of <see cref="MqttFrameLink"/>.</summary>
public sealed record MqttFrameLinkOptions
{
    public TimeSpan MinReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>MQTT keep-alive: a PINGREQ goes out after half of it without a send; no packet from the broker for 1.5× it drops the connection.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connecting, the TLS handshake, CONNACK and SUBACK together.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A send the broker does not take within this long (its socket buffer full) drops the connection: a stalled broker must not stall the caller.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromMilliseconds(500);
}

/// <summary>
/// The lockstep frames' own MQTT connection, beside the <see cref="ResilientMqttClient"/> that carries everything else:
/// MQTT 3.1.1 on one blocking socket (TLS and credentials as the endpoint says), one subscription, QoS 0 publishes sent
/// on the caller's thread out of one preformatted buffer, and a reader thread that hands each payload to its handler in
/// place. Why a second client: a lockstep run's rate is its round trip, a chain of thread wake-ups, and MQTTnet's async
/// pipeline adds wake-ups and copies to each hop. Measured through mosquitto on a 2-core VM
/// (<c>LockstepBreakdownBenchmarks</c>): two MQTTnet clients ping-pong in ≈ 134 µs, two blocking sockets with the same
/// frames and work in ≈ 88 µs. Keeps itself connected (exponential backoff, resubscribing), like the MQTTnet client;
/// while disconnected a publish is dropped and counted (the simulator republishes an unanswered tick). Nothing on the
/// send or receive path allocates once connected.
/// <para>
/// Pumped (lockstep): no reader thread at all. Whoever waits for a frame reads the socket itself through
/// <see cref="Pump"/>, so the controller's control thread reads its own tick, runs the step and sends the answer
/// without waking another thread: the wake-up of a second thread costs about as much as the control step
/// (≈ 25 µs on a loaded 2-core machine), and a lockstep tick has nothing else to wait for.
/// </para>
/// </summary>
public sealed class MqttFrameLink : IDisposable
{
    private const byte ConnectType = 0x10, ConnAckType = 0x20, PublishType = 0x30, SubscribeType = 0x82, SubAckType = 0x90;
    private const byte PingReqType = 0xC0, PingRespType = 0xD0, DisconnectType = 0xE0;
    private const int MaxHeaderLength = 5; // type byte + up to 4 bytes of remaining length

    private readonly MqttEndpoint _endpoint;
    private readonly MqttFrameLinkOptions _options;
    private readonly byte[] _subscribeTopic;
    private readonly FrameHandler _handler;
    private readonly byte[] _send;         // [header, right-aligned in 5 bytes][topic length][topic][payload]
    private readonly int _payloadStart;
    private readonly byte[] _receive;
    private readonly object _sendGate = new();
    private readonly ManualResetEventSlim _connectedEvent = new(false);
    private readonly ManualResetEventSlim _stopEvent = new(false);
    private readonly Thread? _reader;
    private readonly bool _pumped;
    private readonly object _pumpGate = new();
    private TimeSpan _reconnectDelay;
    private long _nextAttempt;
    private int _readTimeoutMs = -1;
    private readonly Timer _keepAlive;
    private Socket? _socket;
    private Stream? _stream;
    private volatile bool _connected;
    private volatile bool _stopping;
    private long _lastSend, _lastReceive;
    private long _published, _dropped, _received, _ignored, _oversized, _connects;
    private volatile string? _lastError;

    /// <param name="endpoint">The broker and who we are (the client id should differ from the MQTTnet client's: a broker drops the older of two equal ids).</param>
    /// <param name="subscribeTopic">The one topic whose messages reach <paramref name="handler"/> (no wildcards).</param>
    /// <param name="publishTopic">The topic of every <see cref="TryPublish"/>.</param>
    /// <param name="pumped">No reader thread: frames are read by callers of <see cref="Pump"/> (and <see cref="WaitConnected"/> connects).</param>
    public MqttFrameLink(MqttEndpoint endpoint, string subscribeTopic, string publishTopic, FrameHandler handler, MqttFrameLinkOptions? options = null,
        bool pumped = false)
    {
        _endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        _handler = handler ?? throw new ArgumentNullException(nameof(handler));
        _options = options ?? new MqttFrameLinkOptions();
        if (subscribeTopic.AsSpan().IndexOfAny('+', '#') >= 0) throw new ArgumentException("the frame topic is one topic, not a filter", nameof(subscribeTopic));
        _subscribeTopic = Encoding.UTF8.GetBytes(subscribeTopic);
        byte[] publish = Encoding.UTF8.GetBytes(publishTopic);
        _payloadStart = MaxHeaderLength + 2 + publish.Length;
        _send = new byte[_payloadStart + FrameFormat.MaxFrameLength];
        _send[MaxHeaderLength] = (byte)(publish.Length >> 8);
        _send[MaxHeaderLength + 1] = (byte)publish.Length;
        publish.CopyTo(_send, MaxHeaderLength + 2);
        // Room for the largest frame with its topic and header; anything larger is skipped unread (counted).
        _receive = new byte[MaxHeaderLength + 2 + _subscribeTopic.Length + FrameFormat.MaxFrameLength];
        _pumped = pumped;
        _reconnectDelay = _options.MinReconnectDelay;
        if (!pumped) _reader = new Thread(ReadLoop) { IsBackground = true, Name = "robotpg-frame-link" };
        _keepAlive = new Timer(_ => KeepAliveTick());
    }

    public MqttEndpoint Endpoint => _endpoint;

    /// <summary>Connected and subscribed.</summary>
    public bool IsConnected => _connected;

    /// <summary>Frames handed to the socket.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Publishes refused: not connected, or a payload larger than <see cref="FrameFormat.MaxFrameLength"/>.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Frames handed to the handler.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Messages on other topics (a broker may deliver overlapping subscriptions of the same user): skipped.</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    /// <summary>Messages larger than any frame: skipped unread, never handed on.</summary>
    public long Oversized => Interlocked.Read(ref _oversized);

    /// <summary>Successful connections (the first and every reconnect).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>Why the last connection attempt failed or the last connection ended; null before any trouble.</summary>
    public string? LastError => _lastError;

    /// <summary>Starts connecting on the reader thread (pumped: starts only the keep-alive; the first wait connects).</summary>
    public void Start()
    {
        _reader?.Start();
        long half = (long)(_options.KeepAlive.TotalMilliseconds / 2);
        _keepAlive.Change(half, half);
    }

    /// <summary>True once connected and subscribed, false when <paramref name="timeout"/> passed first. Pumped: connects on the caller's thread.</summary>
    public bool WaitConnected(TimeSpan timeout)
    {
        if (!_pumped) return _connectedEvent.Wait(timeout);
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_pumpGate)
        {
            while (!_connected && !_stopping && Stopwatch.GetTimestamp() < deadline) TryConnectBefore(deadline);
            return _connected;
        }
    }

    /// <summary>
    /// Pumped mode: reads and handles packets on the caller's thread until one frame was handed to the handler (true)
    /// or <paramref name="timeout"/> passed (false), connecting first when needed (with the reconnect backoff). No frame
    /// within the timeout also ends the connection — nothing arrives in lockstep only when the peer or the broker is gone,
    /// and a TLS stream is unusable after a timed-out read — so the next pump starts a fresh one. One caller at a time.
    /// </summary>
    public bool Pump(TimeSpan timeout)
    {
        if (!_pumped) throw new InvalidOperationException("this frame link has a reader thread: frames reach the handler without pumping");
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_pumpGate)
        {
            while (!_stopping)
            {
                long remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0) return false;
                if (!_connected)
                {
                    TryConnectBefore(deadline);
                    continue;
                }
                try
                {
                    int timeoutMs = (int)Math.Min(int.MaxValue, Math.Max(1, (remaining * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
                    if (timeoutMs != _readTimeoutMs)
                    {
                        (_socket ?? throw new ObjectDisposedException(nameof(MqttFrameLink))).ReceiveTimeout = timeoutMs;
                        _readTimeoutMs = timeoutMs;
                    }
                    if (!TryReadPacket(out byte type, out var body)) throw new IOException("the broker closed the connection");
                    long handled = _received;
                    HandlePacket(type, body);
                    if (_received != handled) return true;
                }
                catch (Exception e) when (IsTimeout(e))
                {
                    _lastError = $"no frame within {timeout.TotalSeconds:0.###} s: connection renewed";
                    Close();
                    return false;
                }
                catch (Exception e) when (e is IOException or SocketException or InvalidDataException or ObjectDisposedException)
                {
                    _lastError = OneLine(e);
                    Close();
                    ScheduleReconnect();
                }
            }
            return false;
        }
    }

    private static bool IsTimeout(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock }) return true;
        return false;
    }

    /// <summary>Pumped mode: one connection attempt if the backoff allows one before <paramref name="deadline"/>, else waits for it (up to the deadline).</summary>
    private void TryConnectBefore(long deadline)
    {
        long now = Stopwatch.GetTimestamp();
        if (now < _nextAttempt)
        {
            _stopEvent.Wait(TimeSpan.FromSeconds((Math.Min(_nextAttempt, deadline) - now) / (double)Stopwatch.Frequency));
            return;
        }
        try
        {
            Connect(TimeSpan.FromSeconds(Math.Min(_options.ConnectTimeout.TotalSeconds, Math.Max(0.001, (deadline - now) / (double)Stopwatch.Frequency))));
            _reconnectDelay = _options.MinReconnectDelay;
            _readTimeoutMs = -1;
        }
        catch (Exception e) when (e is IOException or SocketException or AuthenticationException or InvalidDataException
                                      or ObjectDisposedException or OperationCanceledException or TimeoutException)
        {
            if (!_stopping) _lastError = OneLine(e);
            Close();
            ScheduleReconnect();
        }
    }

    private void ScheduleReconnect()
    {
        _nextAttempt = Stopwatch.GetTimestamp() + (long)(_reconnectDelay.TotalSeconds * Stopwatch.Frequency);
        _reconnectDelay = TimeSpan.FromTicks(Math.Min(_reconnectDelay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
    }

    /// <summary>
    /// Sends <paramref name="payload"/> as a QoS 0 PUBLISH on the caller's thread (a copy into the send buffer and one
    /// socket write). False, counted in <see cref="Dropped"/>, when not connected or the payload is too large; a socket
    /// error drops the connection (the reader reconnects) and returns false. Any thread; sends are serialised.
    /// </summary>
    public bool TryPublish(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > FrameFormat.MaxFrameLength || !_connected)
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        lock (_sendGate)
        {
            var stream = _stream;
            if (stream is null || !_connected)
            {
                Interlocked.Increment(ref _dropped);
                return false;
            }
            payload.CopyTo(_send.AsSpan(_payloadStart));
            int start = WriteFixedHeader(_send, PublishType, _payloadStart - MaxHeaderLength + payload.Length);
            try
            {
                stream.Write(_send, start, _payloadStart - start + payload.Length);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Interlocked.Increment(ref _dropped);
                Drop("send failed: " + e.Message);
                return false;
            }
            Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        }
        Interlocked.Increment(ref _published);
        return true;
    }

    /// <summary>Writes the fixed header right-aligned before <see cref="MaxHeaderLength"/>; returns where the packet starts.</summary>
    private static int WriteFixedHeader(byte[] buffer, byte type, int remaining)
    {
        int lengthBytes = remaining < 128 ? 1 : remaining < 128 * 128 ? 2 : 3;
        int start = MaxHeaderLength - 1 - lengthBytes;
        buffer[start] = type;
        for (int i = 0; i < lengthBytes; i++)
        {
            buffer[start + 1 + i] = (byte)(remaining & 0x7F | (i < lengthBytes - 1 ? 0x80 : 0));
            remaining >>= 7;
        }
        return start;
    }

    private void ReadLoop()
    {
        var delay = _options.MinReconnectDelay;
        while (!_stopping)
        {
            try
            {
                Connect(_options.ConnectTimeout);
                delay = _options.MinReconnectDelay;
                ReceivePackets();
            }
            catch (Exception e) when (e is IOException or SocketException or AuthenticationException or InvalidDataException
                                          or ObjectDisposedException or OperationCanceledException or TimeoutException)
            {
                if (!_stopping) _lastError = OneLine(e);
            }
            Close();
            if (_stopping || _stopEvent.Wait(delay)) break;
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    private static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ");

    private void Connect(TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        lock (_sendGate) _socket = socket;
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                socket.ConnectAsync(new DnsEndPoint(_endpoint.Host, _endpoint.Port), cts.Token).AsTask().GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no connection to {_endpoint.Host}:{_endpoint.Port} within {timeout.TotalSeconds:0.###} s");
            }
        }
        // The handshake and the broker's acknowledgements must come within the connect timeout too.
        socket.ReceiveTimeout = Math.Max(1, (int)((deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency));
        socket.SendTimeout = (int)_options.SendTimeout.TotalMilliseconds;
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        if (_endpoint.UseTls)
        {
            var tls = new SslStream(stream, leaveInnerStreamOpen: false);
            tls.AuthenticateAsClient(TlsTrust.SslOptions(_endpoint));
            stream = tls;
        }
        lock (_sendGate) _stream = stream;
        _start = _end = 0;

        SendPacket(ConnectPacket());
        ExpectConnAck();
        SendPacket(SubscribePacket());
        ExpectSubAck();
        socket.ReceiveTimeout = 0; // from here the keep-alive timer watches the broker (pumped: each pump sets its own)
        Volatile.Write(ref _lastReceive, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _connects);
        _connected = true;
        _connectedEvent.Set();
    }

    private byte[] ConnectPacket()
    {
        byte[] id = Encoding.UTF8.GetBytes(_endpoint.ClientId);
        byte[]? user = _endpoint.UserName is null ? null : Encoding.UTF8.GetBytes(_endpoint.UserName);
        byte[]? password = _endpoint.Password is null || user is null ? null : Encoding.UTF8.GetBytes(_endpoint.Password);
        // Clean session: a QoS 0 subscription is all we hold; nothing to resume.
        byte flags = (byte)(0x02 | (user is null ? 0 : 0x80) | (password is null ? 0 : 0x40));
        int keepAlive = (int)Math.Clamp(_options.KeepAlive.TotalSeconds, 1, ushort.MaxValue);
        var body = new List<byte>(64) { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, flags, (byte)(keepAlive >> 8), (byte)keepAlive };
        AddString(body, id);
        if (user is not null) AddString(body, user);
        if (password is not null) AddString(body, password);
        return Packet(ConnectType, body);
    }

    private byte[] SubscribePacket()
    {
        var body = new List<byte>(_subscribeTopic.Length + 5) { 0, 1 }; // packet id 1
        AddString(body, _subscribeTopic);
        body.Add(0); // QoS 0
        return Packet(SubscribeType, body);
    }

    private static void AddString(List<byte> body, byte[] text)
    {
        body.Add((byte)(text.Length >> 8));
        body.Add((byte)text.Length);
        body.AddRange(text);
    }

    private static byte[] Packet(byte type, List<byte> body)
    {
        var header = new byte[MaxHeaderLength];
        int start = WriteFixedHeader(header, type, body.Count);
        return [.. header.AsSpan(start, MaxHeaderLength - start).ToArray(), .. body];
    }

    private void SendPacket(byte[] packet)
    {
        lock (_sendGate)
        {
            (_stream ?? throw new IOException("connection closed")).Write(packet);
            Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        }
    }

    private void ExpectConnAck()
    {
        if (!TryReadPacket(out byte type, out var body)) throw new IOException($"the broker at {_endpoint.Host}:{_endpoint.Port} closed the connection before CONNACK");
        if (type != ConnAckType || body.Length != 2) throw new InvalidDataException($"the broker answered CONNECT with packet type 0x{type:X2}, not CONNACK");
        string? refused = body[1] switch
        {
            0 => null,
            1 => "unacceptable protocol version (MQTT 3.1.1)",
            2 => "client id rejected",
            3 => "server unavailable",
            4 => "bad user name or password",
            5 => "not authorised",
            _ => $"return code {body[1]}",
        };
        if (refused is not null) throw new IOException($"the broker refused the frame link's connection as {_endpoint.ClientId}: {refused}");
    }

    private void ExpectSubAck()
    {
        // Until SUBACK the broker may already deliver a message on the topic: handled as usual.
        while (true)
        {
            if (!TryReadPacket(out byte type, out var body)) throw new IOException("the broker closed the connection before SUBACK");
            if (type == SubAckType)
            {
                if (body.Length != 3 || body[0] != 0 || body[1] != 1) throw new InvalidDataException("malformed SUBACK");
                if (body[2] != 0)
                    throw new IOException($"the broker refused the subscription to {Encoding.UTF8.GetString(_subscribeTopic)} (return code 0x{body[2]:X2}: not allowed for this user?)");
                return;
            }
            HandlePacket(type, body);
        }
    }

    private void ReceivePackets()
    {
        while (!_stopping)
        {
            if (!TryReadPacket(out byte type, out var body)) throw new IOException("the broker closed the connection");
            HandlePacket(type, body);
        }
    }

    private void HandlePacket(byte type, ReadOnlySpan<byte> body)
    {
        if ((type & 0xF0) == PublishType)
        {
            // We subscribe with QoS 0, so the broker sends QoS 0 (no packet id); the retain and dup bits do not matter.
            if ((type & 0x06) != 0) throw new InvalidDataException($"a PUBLISH with QoS {(type >> 1) & 3} on a QoS 0 subscription");
            if (body.Length < 2) throw new InvalidDataException("a PUBLISH shorter than its topic length");
            int topicLength = body[0] << 8 | body[1];
            if (body.Length < 2 + topicLength) throw new InvalidDataException("a PUBLISH shorter than its topic");
            if (!body.Slice(2, topicLength).SequenceEqual(_subscribeTopic))
            {
                Interlocked.Increment(ref _ignored);
                return;
            }
            Interlocked.Increment(ref _received);
            _handler(body[(2 + topicLength)..]);
            return;
        }
        if (type == PingRespType && body.IsEmpty) return;
        throw new InvalidDataException($"unexpected MQTT packet type 0x{type:X2} from the broker");
    }

    private int _start, _end;

    /// <summary>Blocks for the next whole packet; false at end of stream. A packet larger than the buffer is skipped (counted) and the next one read.</summary>
    private bool TryReadPacket(out byte type, out ReadOnlySpan<byte> body)
    {
        var stream = _stream ?? throw new IOException("connection closed");
        long skip = 0;
        while (true)
        {
            if (skip > 0)
            {
                int drop = (int)Math.Min(skip, _end - _start);
                _start += drop;
                skip -= drop;
            }
            int available = _end - _start;
            if (skip == 0 && available >= 2)
            {
                int remaining = 0, lengthBytes = 0;
                bool complete = false;
                for (int i = 1; i < available && i <= 4; i++)
                {
                    byte b = _receive[_start + i];
                    remaining |= (b & 0x7F) << (7 * (i - 1));
                    lengthBytes = i;
                    if ((b & 0x80) == 0)
                    {
                        complete = true;
                        break;
                    }
                }
                if (!complete && lengthBytes == 4) throw new InvalidDataException("an MQTT remaining length longer than 4 bytes");
                if (complete)
                {
                    int total = 1 + lengthBytes + remaining;
                    if (total > _receive.Length)
                    {
                        Interlocked.Increment(ref _oversized);
                        skip = total;
                        continue;
                    }
                    if (available >= total)
                    {
                        type = _receive[_start];
                        body = _receive.AsSpan(_start + 1 + lengthBytes, remaining);
                        _start += total;
                        if (_start == _end) _start = _end = 0; // the usual case: one packet per read
                        return true;
                    }
                }
            }
            if (_start == _end) _start = _end = 0;
            else if (_end == _receive.Length || skip > 0)
            {
                _receive.AsSpan(_start, _end - _start).CopyTo(_receive);
                _end -= _start;
                _start = 0;
            }
            int read = stream.Read(_receive, _end, _receive.Length - _end);
            if (read == 0)
            {
                type = 0;
                body = default;
                return false;
            }
            _end += read;
            Volatile.Write(ref _lastReceive, Stopwatch.GetTimestamp());
        }
    }

    private void KeepAliveTick()
    {
        if (!_connected) return;
        long now = Stopwatch.GetTimestamp();
        double keepAlive = _options.KeepAlive.TotalSeconds;
        // Pumped, nobody reads while the owner does not wait for a frame (a held lockstep loop): its pump's timeout watches the broker instead.
        if (!_pumped && (now - Volatile.Read(ref _lastReceive)) > 1.5 * keepAlive * Stopwatch.Frequency)
        {
            Drop($"nothing from the broker for {1.5 * keepAlive:0.#} s");
            return;
        }
        if ((now - Volatile.Read(ref _lastSend)) >= keepAlive / 2 * Stopwatch.Frequency)
        {
            try
            {
                SendPacket([PingReqType, 0]);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Drop("keep-alive failed: " + e.Message);
            }
        }
    }

    /// <summary>Ends the connection from any thread: the reader wakes with an error and reconnects.</summary>
    private void Drop(string why)
    {
        _lastError = why;
        _connected = false;
        try
        {
            Volatile.Read(ref _socket)?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone: the reader sees it anyway.
        }
    }

    private void Close()
    {
        _connected = false;
        _connectedEvent.Reset();
        lock (_sendGate)
        {
            _stream?.Dispose();
            _socket?.Dispose();
            _stream = null;
            _socket = null;
        }
    }

    /// <summary>Says goodbye (DISCONNECT), closes the connection and stops the reader.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _stopEvent.Set();
        _keepAlive.Dispose();
        if (_connected)
        {
            try
            {
                SendPacket([DisconnectType, 0]);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // Leaving anyway.
            }
        }
        Drop("closed");
        if (_reader is { IsAlive: true }) _reader.Join();
        Close();
        _connectedEvent.Dispose();
        _stopEvent.Dispose();
    }
}
