using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using RobotPG.Messaging;

namespace RobotPG.Sim.Dashboard;

/// <summary>
/// What the dashboard knows about the fleet: every robot seen on the broker, its last status, and the
/// recent telemetry of each, as ready-to-send Server-Sent-Event lines. MQTT messages come in on the client's
/// thread; each open page has a bounded queue (a page that stops reading loses its oldest events, never
/// the broker connection).
/// </summary>
public sealed class DashboardHub
{
    /// <summary>Events kept per robot for pages opened later (about an hour of episodes and updates).</summary>
    public const int HistoryPerRobot = 4000;

    private const int PageQueue = 4096;

    /// <summary>Subscription filters: the retained status and every telemetry kind of every robot.</summary>
    public static readonly string[] Filters = [Topics.Root + "/+/status", Topics.Root + "/+/telemetry/#"];

    private readonly object _gate = new();
    private readonly Dictionary<string, Queue<string>> _history = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _status = new(StringComparer.Ordinal);
    private readonly List<Channel<string>> _pages = [];
    private readonly TimeProvider _time;
    private long _received, _ignored;

    public DashboardHub(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Messages on the subscribed filters that were not a robot's status or telemetry.</summary>
    public long Ignored => Interlocked.Read(ref _ignored);

    /// <summary>Robots seen so far, in order of id.</summary>
    public IReadOnlyList<string> Robots
    {
        get
        {
            lock (_gate)
            {
                var ids = _history.Keys.ToArray();
                Array.Sort(ids, StringComparer.Ordinal);
                return ids;
            }
        }
    }

    /// <summary>
    /// Splits <c>robotpg/{id}/status</c> and <c>robotpg/{id}/telemetry/{kind}</c> (kind may have further
    /// levels); false for any other topic.
    /// </summary>
    public static bool TryParseTopic(string topic, out string robotId, out string kind)
    {
        robotId = kind = "";
        var parts = topic.Split('/', 4);
        if (parts.Length < 3 || parts[0] != Topics.Root || Topics.ValidateRobotId(parts[1]) is not null)
            return false;
        if (parts.Length == 3 && parts[2] == "status")
        {
            (robotId, kind) = (parts[1], "status");
            return true;
        }
        if (parts.Length == 4 && parts[2] == "telemetry" && parts[3].Length > 0)
        {
            (robotId, kind) = (parts[1], parts[3]);
            return true;
        }
        return false;
    }

    /// <summary>Takes one MQTT message (any thread).</summary>
    public void OnMessage(string topic, in ReadOnlySequence<byte> payload)
    {
        Interlocked.Increment(ref _received);
        if (!TryParseTopic(topic, out string robot, out string kind))
        {
            Interlocked.Increment(ref _ignored);
            return;
        }
        string line = EventLine(robot, kind, _time.GetUtcNow().ToUnixTimeMilliseconds(), payload);
        lock (_gate)
        {
            if (!_history.TryGetValue(robot, out var history))
                _history[robot] = history = new Queue<string>();
            if (kind == "status")
                _status[robot] = line; // the latest status is always kept, whatever the history drops
            else
            {
                history.Enqueue(line);
                if (history.Count > HistoryPerRobot) history.Dequeue();
            }
            foreach (var page in _pages)
                page.Writer.TryWrite(line);
        }
    }

    /// <summary>
    /// Opens a page's event stream: the statuses and history so far, then every new event, in order.
    /// Dispose the returned handle when the page goes away.
    /// </summary>
    public PageStream OpenPage()
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(PageQueue) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        List<string> backlog = [];
        lock (_gate)
        {
            backlog.AddRange(_status.Values);
            foreach (var h in _history.Values) backlog.AddRange(h);
            _pages.Add(channel);
        }
        return new PageStream(this, channel, backlog);
    }

    private void Close(Channel<string> channel)
    {
        lock (_gate) _pages.Remove(channel);
        channel.Writer.TryComplete();
    }

    /// <summary>
    /// One SSE event: <c>data: {"robot":…,"kind":…,"time_ms":…,"payload":…}</c> and a blank line. A payload that
    /// is not JSON (a plain "online" status, say) is sent as a JSON string.
    /// </summary>
    public static string EventLine(string robot, string kind, long timeMs, in ReadOnlySequence<byte> payload)
    {
        byte[] bytes = payload.ToArray();
        var buffer = new ArrayBufferWriter<byte>(bytes.Length + 96);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("robot", robot);
            json.WriteString("kind", kind);
            json.WriteNumber("time_ms", timeMs);
            json.WritePropertyName("payload");
            if (IsJson(bytes))
                json.WriteRawValue(bytes, skipInputValidation: true);
            else
                json.WriteStringValue(Encoding.UTF8.GetString(bytes));
            json.WriteEndObject();
        }
        return "data: " + Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n\n";
    }

    private static bool IsJson(byte[] bytes)
    {
        if (bytes.Length == 0) return false;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read()) return false;
            reader.Skip();
            return !reader.Read(); // one value and nothing after it
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A page's view of the hub: the backlog at opening, then live events.</summary>
    public sealed class PageStream(DashboardHub hub, Channel<string> channel, IReadOnlyList<string> backlog) : IDisposable
    {
        public IReadOnlyList<string> Backlog { get; } = backlog;

        public ChannelReader<string> Live => channel.Reader;

        public void Dispose() => hub.Close(channel);
    }
}
