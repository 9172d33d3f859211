using System.Buffers;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Protocol;
using RobotPG.Messaging.Security;

namespace RobotPG.Messaging;

/// <summary>
/// Called on the client's receive thread for every message matching a subscription. The payload
/// is only valid during the call: decode or copy it before returning.
/// </summary>
public delegate void MqttMessageHandler(string topic, in ReadOnlySequence<byte> payload);

/// <summary>Tuning of <see cref="ResilientMqttClient"/>.</summary>
public sealed record ResilientMqttClientOptions
{
    /// <summary>Messages that may wait for the network; a publish beyond that is dropped and counted.</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>Largest payload <see cref="ResilientMqttClient.TryPublish"/> accepts.</summary>
    public int MaxPayloadLength { get; init; } = FrameFormat.MaxFrameLength;

    public TimeSpan MinReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// An MQTTnet 5 client that keeps itself connected (exponential backoff, resubscribing after every
/// reconnect) and never makes its caller wait on the network: <see cref="TryPublish"/> copies the
/// payload into one of a fixed set of preallocated slots; when nothing else is queued or being sent it
/// hands the slot to MQTTnet on the caller's thread (a QoS 0 send completes at once when the socket
/// takes the bytes, which saves a thread hop per message: the lockstep round trip is a chain of such
/// hops), otherwise a background task sends the slots in order. One sender at a time holds the send
/// gate, so messages from one thread go out in the order published. When every slot is in flight
/// the publish is dropped and counted. While the broker is away queued messages are dropped and
/// counted too (stale sensor data is worthless).
/// </summary>
public sealed class ResilientMqttClient : IAsyncDisposable
{
    private sealed class Slot(int capacity)
    {
        public readonly byte[] Buffer = new byte[capacity];
        public readonly MqttApplicationMessage Message = new();
    }

    private readonly record struct Subscription(string Filter, MqttMessageHandler Handler, MqttQualityOfServiceLevel Qos);

    private readonly MqttEndpoint _endpoint;
    private readonly ResilientMqttClientOptions _options;
    private readonly IMqttClient _client;
    private readonly MqttClientOptions _clientOptions;
    private readonly Channel<Slot> _free;
    private readonly Channel<Slot> _pending;
    private readonly SemaphoreSlim _disconnected = new(0, 1);
    // Held by whoever is calling MQTTnet's PublishAsync: the send loop for a batch, or TryPublish for one inline send.
    private readonly SemaphoreSlim _sendGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly object _subscriptionLock = new();
    private Subscription[] _subscriptions = [];
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _connectLoop;
    private Task? _sendLoop;
    private long _published, _dropped, _droppedDisconnected, _publishFailures, _received, _connects, _handlerFailures;
    private string? _lastError;
    private long _outstanding; // queued or being sent: counted before the queue sees it, so a flush cannot miss one

    public ResilientMqttClient(MqttEndpoint endpoint, ResilientMqttClientOptions? options = null)
    {
        _endpoint = endpoint ?? throw new ArgumentNullException(nameof(endpoint));
        _options = options ?? new ResilientMqttClientOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.QueueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxPayloadLength, 1);

        _clientOptions = BuildClientOptions(endpoint, _options);

        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += OnDisconnectedAsync;

        _free = Channel.CreateBounded<Slot>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = false, SingleWriter = false });
        _pending = Channel.CreateBounded<Slot>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = true, SingleWriter = false });
        for (int i = 0; i < _options.QueueCapacity; i++) _free.Writer.TryWrite(new Slot(_options.MaxPayloadLength));
    }

    public MqttEndpoint Endpoint => _endpoint;

    /// <summary>MQTTnet options for <paramref name="endpoint"/>: TLS trust and client certificate, credentials, protocol, will.</summary>
    internal static MqttClientOptions BuildClientOptions(MqttEndpoint endpoint, ResilientMqttClientOptions options)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(endpoint.Host, endpoint.Port)
            .WithClientId(endpoint.ClientId)
            .WithCleanSession(true)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(options.ConnectTimeout)
            // One socket write per packet. With fragmentation MQTTnet writes the header and the payload separately:
            // two TCP segments, and the receiver often wakes for each (a lockstep round trip took ~40 % longer).
            // The price is one copy of the packet into a joined buffer.
            .WithoutPacketFragmentation()
            .WithProtocolVersion(endpoint.Protocol == MqttProtocol.V311 ? MQTTnet.Formatter.MqttProtocolVersion.V311 : MQTTnet.Formatter.MqttProtocolVersion.V500);
        if (endpoint.UserName is not null) builder = builder.WithCredentials(endpoint.UserName, endpoint.Password);
        if (endpoint.MaximumPacketSize > 0 && endpoint.Protocol == MqttProtocol.V5) builder = builder.WithMaximumPacketSize(endpoint.MaximumPacketSize);
        if (endpoint.Will is { } will)
        {
            builder = builder.WithWillTopic(will.Topic).WithWillPayload(will.Payload).WithWillRetain(true)
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        }
        if (endpoint.UseTls) builder = builder.WithTlsOptions(TlsTrust.ClientOptions(endpoint));
        return builder.Build();
    }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Messages handed to the broker.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Publishes refused because every queue slot was in use, or the payload was too large.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queued messages discarded because the broker was not connected when their turn came.</summary>
    public long DroppedWhileDisconnected => Interlocked.Read(ref _droppedDisconnected);

    public long PublishFailures => Interlocked.Read(ref _publishFailures);

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Exceptions thrown by subscription handlers (caught, counted, never propagated).</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);

    /// <summary>Successful connects; more than one means the client reconnected.</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>Raised on the connect loop after every successful (re)connect and resubscription, with the connect count.</summary>
    public event Action<long>? Connected;

    /// <summary>The last connection error, for a status line.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Starts the connect and send loops; returns at once (see <see cref="WaitConnectedAsync"/>).</summary>
    public void Start()
    {
        if (_connectLoop is not null) throw new InvalidOperationException("the client is already started");
        _connectLoop = Task.Run(ConnectLoopAsync);
        _sendLoop = Task.Run(SendLoopAsync);
    }

    /// <summary>True once connected (and subscribed), false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitConnectedAsync(TimeSpan timeout)
    {
        var connected = Volatile.Read(ref _connected).Task;
        if (connected.IsCompleted && _client.IsConnected) return true;
        return await Task.WhenAny(connected, Task.Delay(timeout, _stop.Token)).ConfigureAwait(false) == connected;
    }

    /// <summary>
    /// Adds a subscription (QoS 0 unless told; fleet rollouts and policies use 1); it is renewed after every
    /// reconnect. When connected, the returned task completes once the broker acknowledged it.
    /// A shared subscription (<c>$share/group/filter</c>) is matched on its filter part.
    /// </summary>
    public async Task SubscribeAsync(string topicFilter, MqttMessageHandler handler, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtMostOnce)
    {
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_subscriptionLock) _subscriptions = [.. _subscriptions, new Subscription(topicFilter, handler, qos)];
        if (_client.IsConnected)
        {
            var options = new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, qos).Build();
            await _client.SubscribeAsync(options, _stop.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Queues a message without waiting: false (and counted in <see cref="Dropped"/>) when the
    /// queue is full or the payload is larger than the slots. Safe from any thread.
    /// </summary>
    public bool TryPublish(string topic, ReadOnlySpan<byte> payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtMostOnce, bool retain = false)
    {
        if (payload.Length > _options.MaxPayloadLength || !_free.Reader.TryRead(out var slot))
        {
            Interlocked.Increment(ref _dropped);
            return false;
        }
        payload.CopyTo(slot.Buffer);
        var message = slot.Message;
        message.Topic = topic;
        message.Payload = new ReadOnlySequence<byte>(slot.Buffer, 0, payload.Length);
        message.QualityOfServiceLevel = qos;
        message.Retain = retain;
        Interlocked.Increment(ref _outstanding);
        // Inline only when nothing queued could be overtaken (checked again under the gate: the
        // send loop dequeues only while holding it).
        if (qos == MqttQualityOfServiceLevel.AtMostOnce && _pending.Reader.Count == 0 && _client.IsConnected && _sendGate.Wait(0))
        {
            if (_pending.Reader.Count == 0)
            {
                SendInline(slot);
                return true;
            }
            _sendGate.Release();
        }
        if (_pending.Writer.TryWrite(slot)) return true;
        Interlocked.Decrement(ref _outstanding);
        _free.Writer.TryWrite(slot);
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>One send on the caller's thread; the caller holds the send gate, which is released once MQTTnet is done.</summary>
    private void SendInline(Slot slot)
    {
        Task task;
        try
        {
            task = _client.PublishAsync(slot.Message, _stop.Token);
        }
        catch (Exception ex)
        {
            task = Task.FromException(ex);
        }
        if (task.IsCompleted) FinishSend(task, slot);
        else _ = FinishSendLaterAsync(task, slot); // the socket did not take the bytes at once (or a keep-alive held the lock)
    }

    private async Task FinishSendLaterAsync(Task task, Slot slot)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch
        {
            // accounted for in FinishSend from the task's state
        }
        FinishSend(task, slot);
    }

    private void FinishSend(Task task, Slot slot)
    {
        if (task.IsCompletedSuccessfully) Interlocked.Increment(ref _published);
        else if (!_stop.IsCancellationRequested) RecordPublishFailure(slot, task.Exception?.GetBaseException() ?? new OperationCanceledException());
        _free.Writer.TryWrite(slot);
        Interlocked.Decrement(ref _outstanding);
        _sendGate.Release();
    }

    private void RecordPublishFailure(Slot slot, Exception ex)
    {
        Interlocked.Increment(ref _publishFailures);
        Volatile.Write(ref _lastError, $"publish to {slot.Message.Topic} failed: {ex.Message}");
        SignalDisconnected();
    }

    /// <summary>Waits until every queued message went out (or was dropped); false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> FlushAsync(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Interlocked.Read(ref _outstanding) != 0)
        {
            if (Environment.TickCount64 > deadline || _stop.IsCancellationRequested) return false;
            await Task.Delay(5).ConfigureAwait(false);
        }
        return true;
    }

    private async Task SendLoopAsync()
    {
        var reader = _pending.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                await _sendGate.WaitAsync(_stop.Token).ConfigureAwait(false);
                try
                {
                    while (reader.TryRead(out var slot))
                    {
                        try
                        {
                            if (!_client.IsConnected)
                            {
                                Interlocked.Increment(ref _droppedDisconnected);
                                continue;
                            }
                            await _client.PublishAsync(slot.Message, _stop.Token).ConfigureAwait(false);
                            Interlocked.Increment(ref _published);
                        }
                        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                        {
                            return;
                        }
                        catch (Exception ex)
                        {
                            RecordPublishFailure(slot, ex);
                        }
                        finally
                        {
                            _free.Writer.TryWrite(slot);
                            Interlocked.Decrement(ref _outstanding);
                        }
                    }
                }
                finally
                {
                    _sendGate.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ConnectLoopAsync()
    {
        var delay = _options.MinReconnectDelay;
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    var result = await _client.ConnectAsync(_clientOptions, token).ConfigureAwait(false);
                    if (result.ResultCode != MqttClientConnectResultCode.Success)
                        throw new IOException($"broker {_endpoint} refused the connection: {result.ResultCode}");
                    Subscription[] subscriptions;
                    lock (_subscriptionLock) subscriptions = _subscriptions;
                    if (subscriptions.Length > 0)
                    {
                        var builder = new MqttClientSubscribeOptionsBuilder();
                        foreach (var s in subscriptions) builder = builder.WithTopicFilter(s.Filter, s.Qos);
                        await _client.SubscribeAsync(builder.Build(), token).ConfigureAwait(false);
                    }
                    long connects = Interlocked.Increment(ref _connects);
                    delay = _options.MinReconnectDelay;
                    Volatile.Read(ref _connected).TrySetResult();
                    Connected?.Invoke(connects);
                }
                // Sleep until MQTTnet reports the connection gone (keep-alive or socket error).
                await _disconnected.WaitAsync(token).ConfigureAwait(false);
                if (!_client.IsConnected && Volatile.Read(ref _connected).Task.IsCompleted)
                    Volatile.Write(ref _connected, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Volatile.Write(ref _lastError, $"connecting to {_endpoint}: {ex.Message}");
                try
                {
                    await Task.Delay(delay, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
            }
        }
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        if (args.Exception is not null) Volatile.Write(ref _lastError, $"disconnected from {_endpoint}: {args.Exception.Message}");
        SignalDisconnected();
        return Task.CompletedTask;
    }

    private void SignalDisconnected()
    {
        if (_disconnected.CurrentCount == 0)
        {
            try
            {
                _disconnected.Release();
            }
            catch (SemaphoreFullException)
            {
                // another thread signalled first: one wake-up is enough
            }
        }
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        Interlocked.Increment(ref _received);
        var message = args.ApplicationMessage;
        var subscriptions = Volatile.Read(ref _subscriptions);
        foreach (var s in subscriptions)
        {
            if (!Topics.Matches(Topics.WithoutShare(s.Filter), message.Topic)) continue;
            try
            {
                s.Handler(message.Topic, message.Payload);
            }
            catch (Exception ex)
            {
                // A handler bug must not tear down the receive loop; count it and keep going.
                Interlocked.Increment(ref _handlerFailures);
                Volatile.Write(ref _lastError, $"handler for {s.Filter} threw: {ex.Message}");
            }
        }
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        // Let the send loop finish what is queued (a clean shutdown's last retained status) before anything is cancelled:
        // a publish cancelled half-written leaves the stream mid-packet, the broker drops the connection as broken, and
        // publishes our last will over the status we just sent.
        _pending.Writer.TryComplete();
        if (_sendLoop is not null) await Task.WhenAny(_sendLoop, Task.Delay(_options.ConnectTimeout)).ConfigureAwait(false);
        // A send made on a caller's thread may still be in MQTTnet's hands (the socket did not take it at once).
        if (Interlocked.Read(ref _outstanding) != 0) await FlushAsync(_options.ConnectTimeout).ConfigureAwait(false);
        if (!_stop.IsCancellationRequested) _stop.Cancel();
        if (_connectLoop is not null) await _connectLoop.ConfigureAwait(false);
        if (_sendLoop is not null) await _sendLoop.ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                // the broker may already be gone; nothing left to do
            }
        }
        _client.Dispose();
        _disconnected.Dispose();
        _stop.Dispose();
    }
}
