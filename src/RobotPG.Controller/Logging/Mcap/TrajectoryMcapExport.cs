using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RobotPG.Controller.Tasks;

namespace RobotPG.Controller.Logging.Mcap;

/// <summary>What an MCAP export wrote, per channel.</summary>
public sealed record McapExportCounts(long Observations, long Actions, long Rewards, long Episodes, long SafetyStops, long Policies, ulong FirstLogTimeNs, ulong LastLogTimeNs,
    long LearningUpdates = 0);

/// <summary>
/// Turns a trajectory log into MCAP with JSON messages (each channel carries a JSON Schema, so Foxglove
/// and PlotJuggler name every field). Channels: <c>/observation</c> (fields named from the task),
/// <c>/action</c> (the policy's sampled motor duties and their log-probability), <c>/reward</c> (reward and done flags),
/// <c>/episode</c> (one message per episode end: steps and return), <c>/safety</c> (one message per
/// safety stop entered, and when it cleared), <c>/policy</c> (the policy the file was logged under),
/// <c>/learning</c> (one message per learning update or rollback from the log's update file: update number,
/// accepted / rejected / rolled back and why, approx KL, clip fraction, entropy, explained variance).
/// Log time = the file's start time (Unix ns) + the record's loop time, so the clocks of robots line up.
/// </summary>
public static class TrajectoryMcapExport
{
    public const string ObservationTopic = "/observation", ActionTopic = "/action", RewardTopic = "/reward",
        EpisodeTopic = "/episode", SafetyTopic = "/safety", PolicyTopic = "/policy", LearningTopic = "/learning";

    /// <param name="updates">The log file's learning updates (<see cref="LearningUpdateLog.ReadFor"/>), in the order written.</param>
    public static McapExportCounts Write(TrajectoryLogReader reader, Stream output, IReadOnlyList<LearningUpdateRecord>? updates = null)
    {
        updates ??= [];
        var h = reader.Header;
        string[] obsNames = TaskShapes.ObservationNames(h.Task, h.ObservationSize);
        string[] actNames = TaskShapes.ActionNames(h.ActionSize);
        var metadata = new Dictionary<string, string>
        {
            ["robot_id"] = h.RobotId,
            ["task"] = h.Task,
            ["policy_hash"] = h.PolicyHash.ToString("x16", CultureInfo.InvariantCulture),
            ["file_index"] = h.FileIndex.ToString(CultureInfo.InvariantCulture),
        };
        // 256 KiB chunks: a reader seeking by time decodes little more than it needs; the index stays small.
        using var mcap = new McapWriter(output, chunkSize: 256 << 10, library: "robotpg", leaveOpen: true);
        ushort Channel(string topic, string title, params (string Name, string Type)[] fields)
        {
            ushort schema = mcap.AddSchema("robotpg" + topic.Replace('/', '.'), "jsonschema", JsonSchema(title, fields));
            return mcap.AddChannel(schema, topic, "json", metadata);
        }
        var numberFields = new List<(string, string)> { ("step", "integer") };
        foreach (string n in obsNames) numberFields.Add((n, "number"));
        ushort obsChannel = Channel(ObservationTopic, "Observation of the task (the policy's input before normalisation)", [.. numberFields]);
        numberFields = [("step", "integer")];
        foreach (string n in actNames) numberFields.Add((n, "number"));
        numberFields.Add(("log_prob", "number"));
        ushort actChannel = Channel(ActionTopic, "Action the policy sampled (before the safety filter) and its log-probability", [.. numberFields]);
        ushort rewardChannel = Channel(RewardTopic, "Reward of the step and its done flags",
            ("step", "integer"), ("reward", "number"), ("terminated", "boolean"), ("truncated", "boolean"), ("safety_stop", "boolean"), ("idle", "boolean"));
        ushort episodeChannel = Channel(EpisodeTopic, "An episode ended",
            ("episode", "integer"), ("end_step", "integer"), ("steps", "integer"), ("return", "number"), ("end_reason", "string"));
        ushort safetyChannel = Channel(SafetyTopic, "The safety supervisor held the motors off from this step on",
            ("step", "integer"), ("event", "string"));
        ushort policyChannel = Channel(PolicyTopic, "The policy this log file was written under",
            ("robot_id", "string"), ("task", "string"), ("policy_hash", "string"), ("file_index", "integer"));
        ushort learningChannel = Channel(LearningTopic, "A learning update of the on-device learner (or a later rollback), at the step of the last transition it learned from",
            ("update", "integer"), ("step", "integer"), ("event", "string"), ("accepted", "boolean"), ("cause", "string"),
            ("approx_kl", "number"), ("clip_fraction", "number"), ("entropy", "number"), ("explained_variance", "number"));

        var buffer = new ArrayBufferWriter<byte>(256);
        using var json = new Utf8JsonWriter(buffer);
        ulong start = (ulong)((h.StartTime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100);
        // Property names are encoded once, not per message.
        var obsKeys = Array.ConvertAll(obsNames, n => JsonEncodedText.Encode(n));
        var actKeys = Array.ConvertAll(actNames, n => JsonEncodedText.Encode(n));
        long observations = 0, episodes = 0, safetyStops = 0, policies = 0, episodeSteps = 0;
        double episodeReturn = 0;
        bool inSafetyStop = false;
        ulong first = 0, last = 0;
        uint seq = 0;
        int nextUpdate = 0;

        // Updates stamped up to time t go out after the record of time t (the last transition each learned from).
        void EmitUpdates(ulong until)
        {
            for (; nextUpdate < updates.Count; nextUpdate++)
            {
                var u = updates[nextUpdate];
                ulong time = start + (ulong)Math.Max(0, u.TimeNs);
                if (time > until) return;
                json.WriteStartObject();
                json.WriteNumber("update"u8, u.Update);
                json.WriteNumber("step"u8, u.Step);
                json.WriteString("event"u8, LearningUpdateLogFormat.EventName(u.Event));
                json.WriteBoolean("accepted"u8, u.Event == LearningUpdateEvent.Accepted);
                json.WriteString("cause"u8, LearningUpdateLogFormat.CauseName(u.Cause));
                WriteFloat(json, "approx_kl"u8, u.ApproxKl);
                WriteFloat(json, "clip_fraction"u8, u.ClipFraction);
                WriteFloat(json, "entropy"u8, u.Entropy);
                WriteFloat(json, "explained_variance"u8, u.ExplainedVariance);
                json.WriteEndObject();
                Emit(learningChannel, time);
                if (first == 0 && last == 0) first = time;
                first = Math.Min(first, time);
                last = Math.Max(last, time);
            }
        }

        void Emit(ushort channel, ulong time)
        {
            json.Flush();
            mcap.WriteMessage(channel, seq, time, time, buffer.WrittenSpan);
            json.Reset();
            buffer.ResetWrittenCount();
        }

        while (reader.TryReadNext(out var r))
        {
            ulong t = start + (ulong)Math.Max(0, r.TimeNs);
            if (observations == 0)
            {
                first = t;
                json.WriteStartObject();
                json.WriteString("robot_id", h.RobotId);
                json.WriteString("task", h.Task);
                json.WriteString("policy_hash", metadata["policy_hash"]);
                json.WriteNumber("file_index", h.FileIndex);
                json.WriteEndObject();
                Emit(policyChannel, t);
                policies++;
            }
            last = t;
            seq = (uint)r.Step;

            json.WriteStartObject();
            json.WriteNumber("step", r.Step);
            for (int i = 0; i < obsKeys.Length; i++)
                WriteFloat(json, obsKeys[i], r.Observation[i]);
            json.WriteEndObject();
            Emit(obsChannel, t);

            json.WriteStartObject();
            json.WriteNumber("step", r.Step);
            for (int j = 0; j < actKeys.Length; j++)
                WriteFloat(json, actKeys[j], r.Action[j]);
            WriteFloat(json, "log_prob"u8, r.LogProb);
            json.WriteEndObject();
            Emit(actChannel, t);

            json.WriteStartObject();
            json.WriteNumber("step", r.Step);
            WriteFloat(json, "reward"u8, r.Reward);
            json.WriteBoolean("terminated"u8, (r.Flags & TransitionFlags.Terminated) != 0);
            json.WriteBoolean("truncated"u8, (r.Flags & TransitionFlags.Truncated) != 0);
            json.WriteBoolean("safety_stop"u8, (r.Flags & TransitionFlags.SafetyStop) != 0);
            json.WriteBoolean("idle"u8, (r.Flags & TransitionFlags.Idle) != 0);
            json.WriteEndObject();
            Emit(rewardChannel, t);
            observations++;

            bool stopped = (r.Flags & TransitionFlags.SafetyStop) != 0;
            if (stopped && !inSafetyStop)
            {
                json.WriteStartObject();
                json.WriteNumber("step", r.Step);
                json.WriteString("event", "motors held off");
                json.WriteEndObject();
                Emit(safetyChannel, t);
                safetyStops++;
            }
            inSafetyStop = stopped;

            if ((r.Flags & TransitionFlags.Idle) == 0)
            {
                episodeSteps++;
                episodeReturn += r.Reward;
            }
            if ((r.Flags & (TransitionFlags.Terminated | TransitionFlags.Truncated)) != 0)
            {
                episodes++;
                json.WriteStartObject();
                json.WriteNumber("episode", episodes);
                json.WriteNumber("end_step", r.Step);
                json.WriteNumber("steps", episodeSteps);
                json.WriteNumber("return", episodeReturn);
                json.WriteString("end_reason", (r.Flags & TransitionFlags.Terminated) != 0 ? "terminated"
                    : (r.Flags & TransitionFlags.SafetyStop) != 0 ? "safety stop" : "step limit");
                json.WriteEndObject();
                Emit(episodeChannel, t);
                episodeSteps = 0;
                episodeReturn = 0;
            }
            EmitUpdates(t);
        }
        // Updates after the last record this file kept (its last records were lost): at their own times.
        EmitUpdates(ulong.MaxValue);
        mcap.Finish();
        return new McapExportCounts(observations, observations, observations, episodes, safetyStops, policies, first, last, updates.Count);
    }

    /// <summary>JSON has no NaN or infinity: a non-finite value (a fault the log kept) is written as null.</summary>
    private static void WriteFloat(Utf8JsonWriter json, JsonEncodedText name, float value)
    {
        if (float.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteNull(name);
    }

    private static void WriteFloat(Utf8JsonWriter json, ReadOnlySpan<byte> name, float value)
    {
        if (float.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteNull(name);
    }

    private static byte[] JsonSchema(string title, (string Name, string Type)[] fields)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("$schema", "https://json-schema.org/draft/2020-12/schema");
            json.WriteString("title", title);
            json.WriteString("type", "object");
            json.WriteStartObject("properties");
            foreach (var (name, type) in fields)
            {
                json.WriteStartObject(name);
                if (type == "number")
                {
                    json.WriteStartArray("type");
                    json.WriteStringValue("number");
                    json.WriteStringValue("null");
                    json.WriteEndArray();
                }
                else
                    json.WriteString("type", type);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
