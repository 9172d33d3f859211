using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
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

    /// <summary>
    /// MQTT keep-alive: a PINGREQ goes out after half of it without a send or without a receive; no packet from the
    /// broker for 1.5× it drops the connection. Zero or less: off (the broker is told 0, no pings, no watchdog).
    /// </summary>
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
    private long _lastSend, _lastReceive, _unansweredPingSince;
    private static readonly byte[] PingReq = [PingReqType, 0], Disconnect = [DisconnectType, 0];
    private long _published, _dropped, _received, _ignored, _oversized, _connects, _handlerFailures;
    private volatile string? _lastError;
    private string? _dropReason; // why Drop ended the connection: the reader's own error (end of stream) says less

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

    /// <summary>Messages larger than any frame: skipped, never handed on.</summary>
    public long Oversized => Interlocked.Read(ref _oversized);

    /// <summary>Successful connections (the first and every reconnect).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>Exceptions thrown by the handler: caught and counted (the message in <see cref="LastError"/>); the connection stays.</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>Why the last connection attempt failed or the last connection ended, or the handler's last exception; null before any trouble.</summary>
    public string? LastError => _lastError;

    /// <summary>Starts connecting on the reader thread (pumped: starts only the keep-alive; the first wait connects).</summary>
    public void Start()
    {
        _reader?.Start();
        if (_options.KeepAlive <= TimeSpan.Zero) return;
        long half = Math.Max(1, (long)(_options.KeepAlive.TotalMilliseconds / 2));
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
                    // Rounded up to 50 ms so that a run of pumps with about the same deadline makes one setsockopt, not one each.
                    int timeoutMs = (int)Math.Min(int.MaxValue - 50, (remaining * 1000 / Stopwatch.Frequency / 50 + 1) * 50);
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
                    // Drop's reason (a failed send, Dispose) says more than the end of stream it caused here.
                    _lastError = Interlocked.Exchange(ref _dropReason, null) ?? OneLine(e);
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
        catch (Exception e)
        {
            // Everything, as on the reader thread: the caller is the control loop, which a bad CA file
            // (CryptographicException) must not end; reported, and tried again after the backoff.
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
            catch (Exception e)
            {
                // Everything: an exception escaping this thread would end the process (a bad CA file throws
                // CryptographicException); each is reported and the connection tried again.
                string? dropped = Interlocked.Exchange(ref _dropReason, null);
                if (!_stopping) _lastError = dropped ?? OneLine(e);
            }
            Close();
            if (_stopping || _stopEvent.Wait(delay)) break;
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
        }
    }

    private static string OneLine(Exception e) => e.Message.ReplaceLineEndings(" ");

    private void Connect(TimeSpan timeout)
    {
        Volatile.Write(ref _dropReason, null);
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var socket = ConnectSocket(deadline, timeout);
        // The handshake and the broker's acknowledgements must come within the connect timeout too.
        socket.ReceiveTimeout = RemainingMilliseconds(deadline);
        socket.SendTimeout = (int)_options.SendTimeout.TotalMilliseconds;
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        lock (_sendGate) _stream = stream;
        try
        {
            if (_endpoint.UseTls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                lock (_sendGate) _stream = tls; // Close disposes it when the handshake fails
                tls.AuthenticateAsClient(TlsTrust.SslOptions(_endpoint));
            }
            _start = _end = 0;

            SendPacket(ConnectPacket());
            ExpectConnAck();
            SendPacket(SubscribePacket());
            ExpectSubAck();
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
        {
            throw new TimeoutException($"the broker at {_endpoint.Host}:{_endpoint.Port} did not complete the handshake (TLS, CONNACK, SUBACK) within {timeout.TotalSeconds:0.###} s", e);
        }
        socket.ReceiveTimeout = 0; // from here the keep-alive timer watches the broker (pumped: each pump sets its own)
        Volatile.Write(ref _lastReceive, Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _connects);
        _connected = true;
        _connectedEvent.Set();
    }

    private static int RemainingMilliseconds(long deadline) =>
        (int)Math.Clamp((deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency, 1, int.MaxValue);

    /// <summary>
    /// A connected socket, blocking at the OS level. Not <c>ConnectAsync</c> nor a non-blocking connect: on Linux a
    /// socket made non-blocking once (any async operation, or <c>Blocking = false</c>) stays so underneath, and .NET then
    /// emulates each blocking read that has to wait with an operation object — measured 192 B per round trip
    /// (<c>RoundTripsAllocateNothing</c>). So a blocking connect, which a timer ends at the deadline and
    /// <see cref="Dispose"/> ends at once: shutting down a socket in SYN_SENT aborts its connect.
    /// </summary>
    private Socket ConnectSocket(long deadline, TimeSpan timeout)
    {
        IPAddress[] addresses;
        if (IPAddress.TryParse(_endpoint.Host, out var literal)) addresses = [literal];
        else
        {
            using var cts = new CancellationTokenSource(RemainingMilliseconds(deadline));
            try
            {
                addresses = Dns.GetHostAddressesAsync(_endpoint.Host, cts.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{_endpoint.Host} was not resolved within {timeout.TotalSeconds:0.###} s");
            }
            if (addresses.Length == 0) throw new IOException($"{_endpoint.Host} has no address");
        }
        SocketException? failure = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            lock (_sendGate)
            {
                if (_stopping)
                {
                    socket.Dispose();
                    throw new OperationCanceledException("the frame link is closing");
                }
                _socket = socket;
            }
            int state = 0; // 0 connecting, 1 done, 2 timed out: whoever moves it from 0 decides
            failure = null;
            using (new Timer(_ =>
            {
                if (Interlocked.CompareExchange(ref state, 2, 0) == 0) Abort(socket);
            }, null, RemainingMilliseconds(deadline), Timeout.Infinite))
            {
                try
                {
                    socket.Connect(address, _endpoint.Port);
                }
                catch (SocketException e)
                {
                    failure = e;
                }
            }
            bool timedOut = Interlocked.CompareExchange(ref state, 1, 0) == 2;
            if (failure is null && !timedOut) return socket;
            lock (_sendGate) _socket = null;
            socket.Dispose();
            if (_stopping) throw new OperationCanceledException("the frame link is closing");
            if (timedOut) throw new TimeoutException($"no connection to {_endpoint.Host}:{_endpoint.Port} within {timeout.TotalSeconds:0.###} s");
        }
        throw new IOException($"no connection to {_endpoint.Host}:{_endpoint.Port}: {failure!.Message}", failure);
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Not connected yet (the kernel aborted the connect anyway) or already closed.
        }
    }

    private byte[] ConnectPacket()
    {
        byte[] id = Encoding.UTF8.GetBytes(_endpoint.ClientId);
        byte[]? user = _endpoint.UserName is null ? null : Encoding.UTF8.GetBytes(_endpoint.UserName);
        byte[]? password = _endpoint.Password is null || user is null ? null : Encoding.UTF8.GetBytes(_endpoint.Password);
        // Clean session: a QoS 0 subscription is all we hold; nothing to resume.
        byte flags = (byte)(0x02 | (user is null ? 0 : 0x80) | (password is null ? 0 : 0x40));
        // Whole seconds, rounded down (pings come at half of the configured time anyway); 0 is MQTT's "off".
        int keepAlive = _options.KeepAlive <= TimeSpan.Zero ? 0 : (int)Math.Clamp(_options.KeepAlive.TotalSeconds, 1, ushort.MaxValue);
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
            var payload = body[(2 + topicLength)..];
            // The receive buffer has room for a few bytes more than a frame (a short header): a payload no frame can
            // be is skipped here, not handed on.
            if (payload.Length > FrameFormat.MaxFrameLength)
            {
                Interlocked.Increment(ref _oversized);
                return;
            }
            Interlocked.Increment(ref _received);
            try
            {
                _handler(payload);
            }
            catch (Exception e)
            {
                // A handler's bug must not end the process (this thread) nor the connection: counted and reported.
                Interlocked.Increment(ref _handlerFailures);
                _lastError = $"the frame handler threw {e.GetType().Name}: {OneLine(e)}";
            }
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
        long lastReceive = Volatile.Read(ref _lastReceive), pingSince = Volatile.Read(ref _unansweredPingSince);
        double keepAlive = _options.KeepAlive.TotalSeconds;
        double half = keepAlive / 2 * Stopwatch.Frequency;
        // Silent for 1.5 keep-alives and a ping unanswered for half of one: a tick that comes late (a starved thread
        // pool) pings first instead of dropping a broker it never asked. Pumped, nobody reads while the owner does not
        // wait for a frame (a held lockstep loop): its pump's timeout watches the broker instead.
        bool pingUnanswered = pingSince > lastReceive;
        if (!_pumped && now - lastReceive > 1.5 * keepAlive * Stopwatch.Frequency && pingUnanswered && now - pingSince >= half)
        {
            Drop($"nothing from the broker for {1.5 * keepAlive:0.#} s");
            return;
        }
        // Also after half of it without a receive: a link that only publishes (the simulator repeating an unanswered
        // tick) would otherwise never ask, and the watchdog above would drop a healthy connection.
        if (now - Volatile.Read(ref _lastSend) >= half || now - lastReceive >= half)
        {
            try
            {
                SendPacket(PingReq);
                if (!pingUnanswered) Volatile.Write(ref _unansweredPingSince, now);
            }
            catch (Exception e)
            {
                Drop("keep-alive failed: " + OneLine(e));
            }
        }
    }

    /// <summary>Ends the connection from any thread: the reader wakes with an error and reconnects.</summary>
    private void Drop(string why)
    {
        Interlocked.CompareExchange(ref _dropReason, why, null);
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
                SendPacket(Disconnect);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                // Leaving anyway.
            }
        }
        Drop("closed");
        if (Thread.CurrentThread == _reader)
        {
            // Called from the handler: the reader ends when the handler returns (and still uses the events).
            Close();
            return;
        }
        if (_reader is { IsAlive: true }) _reader.Join();
        // Pumped: a pump in progress (its read ended by Drop, its backoff wait by the stop event) leaves before the
        // events it may be waiting on are disposed. Reentrant when Dispose is called from the handler inside a pump.
        if (_pumped) lock (_pumpGate) { }
        Close();
        _connectedEvent.Dispose();
        _stopEvent.Dispose();
    }
}
