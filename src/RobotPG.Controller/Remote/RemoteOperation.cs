using System.Buffers;
using System.Text.Json;
using MQTTnet.Protocol;
using RobotPG.Controller.Control;
using RobotPG.Controller.Telemetry;
using RobotPG.Messaging;
using RobotPG.Messaging.Security;

namespace RobotPG.Controller.Remote;

/// <summary>
/// The robot's side of remote operation: obeys signed commands on <c>robotpg/{id}/cmd/{verb}</c> (QoS 1),
/// answers each on <c>robotpg/{id}/reply</c>, keeps the retained <c>robotpg/{id}/status</c> current (the
/// broker replaces it with "offline" through the last will) and reports command totals on
/// <c>telemetry/commands</c>. Runs on the MQTT receive thread and a 1 Hz timer, never on the control thread:
/// commands reach the loop through <see cref="OperatorCommandQueue"/>, policies through the
/// <see cref="PolicyExchange"/>, both picked up at a step boundary. An e-stop is honoured even unsigned.
/// </summary>
public sealed class RemoteOperation : IDisposable
{
    private readonly ResilientMqttClient _client;
    private readonly Topics _topics;
    private readonly ControlLoop _loop;
    private readonly SignatureVerifier? _verifier;
    private readonly PolicyDeployment? _deployment;
    private readonly Func<(string Name, ulong Hash)> _policy;
    private readonly Func<string?>? _rollBackToBest;
    private readonly string _commandPrefix;
    private readonly string _commandsTopic;
    private readonly Timer _timer;
    private readonly Lock _gate = new();
    private long _accepted, _refused, _unsigned, _badSignature, _unknownKey, _expired, _replayed, _malformed, _other;
    private string? _lastRefusal;
    private string? _lastStatus;
    private long _lastTelemetryTotal = -1;
    private bool _disposed;

    public RemoteOperation(ResilientMqttClient client, Topics topics, ControlLoop loop, SignatureVerifier? verifier,
        Func<(string Name, ulong Hash)> policy, PolicyDeployment? deployment, Func<string?>? rollBackToBest = null)
    {
        _rollBackToBest = rollBackToBest;
        _client = client;
        _topics = topics;
        _loop = loop;
        _verifier = verifier;
        _policy = policy;
        _deployment = deployment;
        _commandPrefix = topics.Prefix + "cmd/";
        _commandsTopic = topics.Telemetry(TelemetryKinds.Commands);
        _timer = new Timer(_ => PublishState(force: false));
    }

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Connections made to the broker so far; each one is subscribed to the commands before it counts.</summary>
    public long Connects => _client.Connects;

    /// <summary>The payload the broker publishes as our last will: retained, state "offline".</summary>
    public static byte[] OfflineStatus(string robotId) =>
        JsonSerializer.SerializeToUtf8Bytes(new RobotStatus(robotId, "offline", null, null, null, null, null, null, null, null), MessagingJsonContext.Default.RobotStatus);

    /// <summary>Subscribes to the command topics and starts publishing the status (also after every reconnect).</summary>
    public void Start()
    {
        _client.Connected += _ => PublishState(force: true);
        _client.SubscribeAsync(_topics.CommandAll, OnCommand, MqttQualityOfServiceLevel.AtLeastOnce).GetAwaiter().GetResult();
        if (_client.IsConnected) PublishState(force: true);
        _timer.Change(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    private void OnCommand(string topic, in ReadOnlySequence<byte> payload)
    {
        if (!topic.StartsWith(_commandPrefix, StringComparison.Ordinal)) return;
        string verb = topic[_commandPrefix.Length..];
        // The simulator's own verbs share the command tree; they are not the controller's business.
        if (verb is CommandNames.Reset or CommandNames.Randomize) return;
        byte[] bytes = payload.ToArray();
        CommandReply reply;
        try
        {
            reply = Handle(verb, bytes);
        }
        catch (Exception e)
        {
            // A bug here must not take the receive loop (and the e-stop path) down with it.
            reply = Refuse(verb, SignatureVerdict.Accepted, "internal error: " + e.Message, null);
        }
        Reply(reply);
        PublishState(force: true);
    }

    private CommandReply Handle(string verb, byte[] bytes)
    {
        if (verb == CommandNames.EmergencyStop)
        {
            // Safety first: honoured signed or not, whatever the body.
            _loop.Safety.RequestEmergencyStop();
            Interlocked.Increment(ref _accepted);
            return new CommandReply(verb, "accepted", null, null, null, _loop.StepCount);
        }
        if (Array.IndexOf(CommandNames.Operator, verb) < 0)
            return Refuse(verb, SignatureVerdict.Malformed, $"unknown command '{verb}'", null);
        if (_verifier is null || _verifier.KeyCount == 0)
            return Refuse(verb, SignatureVerdict.UnknownKey, "this robot has no operator keys (security.operatorKeys)", null);

        bool isPolicy = verb == CommandNames.Policy;
        SignedMessage? message = isPolicy
            ? SignedMessage.TryParseEnvelope(bytes, out var verdict, out string? error)
            : SignedMessage.TryParseCommandJson(bytes, out verdict, out error);
        if (message is null) return Refuse(verb, verdict, error ?? verdict.ToString(), null);
        string purpose = isPolicy ? SignedMessage.PolicyPurpose : "cmd/" + verb;
        verdict = _verifier.Verify(message, _topics.RobotId, purpose, Freshness.Required, out string? reason);
        if (verdict != SignatureVerdict.Accepted) return Refuse(verb, verdict, reason!, message);

        string? path = null, hash = null;
        string? refusal = verb switch
        {
            CommandNames.Stop => Enqueue(OperatorAction.Hold),
            CommandNames.Start => _loop.Safety.Tripped && _loop.Safety.Cause != SafetyCause.OperatorHold
                ? $"motors are held off by {TelemetryPublisher.CauseName(_loop.Safety.Cause)}" + (_loop.Safety.Cause == SafetyCause.EmergencyStop ? ": send clear-estop first" : "")
                : Enqueue(OperatorAction.Resume),
            CommandNames.ClearEmergencyStop => Enqueue(OperatorAction.ClearEmergencyStop),
            CommandNames.Policy => _deployment is null ? NoDeployment : _deployment.InstallPushed(bytes, message.Body, message.KeyId),
            CommandNames.Load => _deployment is null ? NoDeployment : Load(message.Body, out path),
            CommandNames.Save => _deployment is null ? NoDeployment : Save(message.Body, out path, out hash),
            CommandNames.Best => _rollBackToBest is null ? NoLearner : _rollBackToBest(),
            _ => $"'{verb}' is not available on this robot",
        };
        if (refusal is not null) return Refuse(verb, SignatureVerdict.Accepted, refusal, message) with { Path = path };
        Interlocked.Increment(ref _accepted);
        return new CommandReply(verb, "accepted", null, message.Nonce, message.KeyId, _loop.StepCount, path, hash);
    }

    private const string NoLearner = "this robot does not learn on board, so it keeps no best policy of its own (push one with robotpg-sim policy push)";

    private const string NoDeployment = "this robot learns on board: its learner chooses its policies and keeps its own checkpoints";

    private string? Load(ReadOnlyMemory<byte> body, out string? path)
    {
        path = null;
        if (CheckpointCommandBody(body, out string? problem) is not { } command) return problem;
        return _deployment!.Load(command.Name, out path);
    }

    private string? Save(ReadOnlyMemory<byte> body, out string? path, out string? hash)
    {
        path = hash = null;
        if (CheckpointCommandBody(body, out string? problem) is not { } command) return problem;
        string? refusal = _deployment!.Save(command.Name, out path, out ulong saved);
        if (refusal is null) hash = saved.ToString("x16");
        return refusal;
    }

    /// <summary>The body of save and load: <c>{"name": "NAME.ckpt"}</c> (save: optional).</summary>
    private static CheckpointCommand? CheckpointCommandBody(ReadOnlyMemory<byte> body, out string? problem)
    {
        problem = null;
        try
        {
            var command = body.IsEmpty ? new CheckpointCommand(null) : JsonSerializer.Deserialize(body.Span, MessagingJsonContext.Default.CheckpointCommand);
            if (command is null) problem = "the body must be a JSON object: {\"name\": \"NAME.ckpt\"}";
            return command;
        }
        catch (JsonException e)
        {
            problem = "the body must be a JSON object {\"name\": \"NAME.ckpt\"}: " + e.Message;
            return null;
        }
    }

    private string? Enqueue(OperatorAction action) =>
        _loop.Commands.TryEnqueue(action) ? null : "the control loop is not taking commands (not running)";

    private CommandReply Refuse(string verb, SignatureVerdict verdict, string reason, SignedMessage? message)
    {
        Interlocked.Increment(ref _refused);
        switch (verdict)
        {
            case SignatureVerdict.Unsigned: Interlocked.Increment(ref _unsigned); break;
            case SignatureVerdict.BadSignature: Interlocked.Increment(ref _badSignature); break;
            case SignatureVerdict.UnknownKey: Interlocked.Increment(ref _unknownKey); break;
            case SignatureVerdict.Expired or SignatureVerdict.FromTheFuture: Interlocked.Increment(ref _expired); break;
            case SignatureVerdict.Replayed: Interlocked.Increment(ref _replayed); break;
            case SignatureVerdict.Malformed or SignatureVerdict.WrongAudience or SignatureVerdict.WrongPurpose: Interlocked.Increment(ref _malformed); break;
            default: Interlocked.Increment(ref _other); break;
        }
        string outcome = verdict == SignatureVerdict.Accepted ? "refused" : "refused-" + Kebab(verdict);
        Volatile.Write(ref _lastRefusal, $"{verb}: {reason}");
        return new CommandReply(verb, outcome, reason, message?.Nonce, message?.KeyId, _loop.StepCount);
    }

    private static string Kebab(SignatureVerdict v) => v switch
    {
        SignatureVerdict.Unsigned => "unsigned",
        SignatureVerdict.Malformed => "malformed",
        SignatureVerdict.UnknownKey => "unknown-key",
        SignatureVerdict.BadSignature => "bad-signature",
        SignatureVerdict.WrongAudience => "wrong-audience",
        SignatureVerdict.WrongPurpose => "wrong-purpose",
        SignatureVerdict.Expired => "expired",
        SignatureVerdict.FromTheFuture => "from-the-future",
        SignatureVerdict.Replayed => "replayed",
        _ => "accepted",
    };

    private void Reply(CommandReply reply) =>
        _client.TryPublish(_topics.Reply, JsonSerializer.SerializeToUtf8Bytes(reply, MessagingJsonContext.Default.CommandReply), MqttQualityOfServiceLevel.AtLeastOnce);

    public RobotStatus Snapshot(string state)
    {
        var safety = _loop.Safety;
        var (name, hash) = _policy();
        return new RobotStatus(_topics.RobotId, state, name, hash.ToString("x16"),
            safety.Tripped ? TelemetryPublisher.CauseName(safety.Cause) : "ok",
            safety.Tripped && safety.Cause == SafetyCause.EmergencyStop, _loop.StepCount, Accepted, Refused,
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>Retained status when anything but the step count changed (or <paramref name="force"/>), and command totals when they moved.</summary>
    private void PublishState(bool force, string state = "online")
    {
        lock (_gate)
        {
            if (_disposed && state == "online") return;
            var status = Snapshot(state);
            // The step count and time change every call; compare the rest.
            string key = $"{status.State}|{status.Policy}|{status.PolicyHash}|{status.Safety}|{status.CommandsAccepted}|{status.CommandsRefused}";
            if (force || key != _lastStatus)
            {
                _lastStatus = key;
                _client.TryPublish(_topics.Status, JsonSerializer.SerializeToUtf8Bytes(status, MessagingJsonContext.Default.RobotStatus), MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
            }
            long total = Accepted + Refused;
            if (total != _lastTelemetryTotal)
            {
                _lastTelemetryTotal = total;
                var t = new CommandTelemetry(Accepted, Refused, Interlocked.Read(ref _unsigned), Interlocked.Read(ref _badSignature),
                    Interlocked.Read(ref _unknownKey), Interlocked.Read(ref _expired), Interlocked.Read(ref _replayed),
                    Interlocked.Read(ref _malformed), Interlocked.Read(ref _other), Volatile.Read(ref _lastRefusal));
                _client.TryPublish(_commandsTopic, JsonSerializer.SerializeToUtf8Bytes(t, MessagingJsonContext.Default.CommandTelemetry));
            }
        }
    }

    /// <summary>Clean shutdown: the retained status says "stopped" (not "offline": nothing went wrong) and is flushed.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _timer.Dispose();
        PublishState(force: true, state: "stopped");
        _client.FlushAsync(TimeSpan.FromSeconds(2)).GetAwaiter().GetResult();
    }
}
