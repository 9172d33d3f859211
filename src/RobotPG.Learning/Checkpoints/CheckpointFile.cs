using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Learning.Optimization;
using RobotPG.Learning.Rollouts;
using RobotPG.Numerics;

namespace RobotPG.Learning.Checkpoints;

/// <summary>
/// The checkpoint file. Layout (little-endian):
/// <code>
/// "RPGCKPT\0" | u32 version | u32 payload length | payload | u32 CRC-32 of everything before it
/// payload = sections, each: u32 id | u32 length | body
/// </code>
/// Sections: meta (tag, counters), policy (sizes, θ), value (sizes, θ), observation normaliser,
/// reward scaler, optimiser, value optimiser, and the learner's optional replay batches, minibatch-shuffle
/// generator and batch in progress, and a best-policy file's evaluation return. A reader skips sections it does not
/// know, so those four came without a version change: an older file loads with an empty replay, a fresh shuffle, an
/// empty batch and no evaluation return, an older build ignores them.
/// The batch in progress is the one optional part whose failure does not refuse the file: it is worth at most one
/// batch of robot time, the rest of the file (the policy and everything learned) much more, so a batch that does not
/// fit or does not parse is left out with a note (<see cref="TrainingState.PendingNote"/>). Saving writes a temp file, flushes it to disk and
/// renames it over the target, so a crash leaves either the old or the new file. Loading checks
/// length, magic, version and CRC, then checks every section against the object it is loaded into
/// before changing anything; any failure is a <see cref="CheckpointException"/> naming file and reason.
/// </summary>
public static class CheckpointFile
{
    public const int FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "RPGCKPT\0"u8;
    private const int HeaderSize = 16;
    private const int TrailerSize = 4;

    private enum Section : uint
    {
        Meta = 1,
        Policy = 2,
        Value = 3,
        ObservationNormalizer = 4,
        RewardScaler = 5,
        Optimizer = 6,
        ValueOptimizer = 7,
        Replay = 8,
        MinibatchShuffle = 9,
        PendingBatch = 10,
        Evaluation = 11,
    }

    /// <summary>Writes <paramref name="state"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(state);
        WriteAtomic(path, Serialize(state));
    }

    /// <summary>
    /// Writes <paramref name="bytes"/> to a temp file beside <paramref name="path"/>, flushes it to disk, lets
    /// <paramref name="checkWritten"/> read the temp file back (it throws <see cref="CheckpointException"/> to keep the
    /// old file), then renames it over <paramref name="path"/>: a crash or a failed check leaves the old file whole.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> bytes, Action<string>? checkWritten = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            checkWritten?.Invoke(temp);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new CheckpointException(path, "cannot be written: " + e.Message, e);
        }
        catch (CheckpointException)
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>The checkpoint as bytes (what <see cref="Save"/> writes).</summary>
    public static byte[] Serialize(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var w = new ArrayBufferWriter<byte>(4096);
        w.Write(Magic);
        WriteUInt32(w, FormatVersion);
        WriteUInt32(w, 0); // payload length, patched below

        WriteSection(w, Section.Meta, state, static (w, s) =>
        {
            byte[] tag = Encoding.UTF8.GetBytes(s.Tag ?? "");
            WriteInt32(w, tag.Length);
            w.Write(tag);
            WriteInt64(w, s.StepCount);
            WriteInt64(w, s.EpisodeCount);
            WriteInt64(w, s.UpdateCount);
        });
        if (state.Policy is { } policy)
            WriteSection(w, Section.Policy, policy, static (w, p) =>
            {
                WriteInt32(w, p.ObservationSize);
                WriteInt32(w, p.ActionSize);
                WriteSizes(w, p.HiddenSizes);
                WriteFloats(w, p.Parameters);
            });
        if (state.Value is { } value)
            WriteSection(w, Section.Value, value, static (w, v) =>
            {
                WriteInt32(w, v.ObservationSize);
                WriteSizes(w, v.HiddenSizes);
                WriteFloats(w, v.Parameters);
            });
        if (state.ObservationNormalizer is { } normalizer)
            WriteSection(w, Section.ObservationNormalizer, normalizer, static (w, n) => WriteStatistics(w, n));
        if (state.RewardScaler is { } scaler)
            WriteSection(w, Section.RewardScaler, scaler, static (w, r) =>
            {
                WriteDouble(w, r.Gamma);
                WriteDouble(w, r.DiscountedReturn);
                WriteStatistics(w, r.ReturnStatistics);
            });
        if (state.Optimizer is { } optimizer)
            WriteSection(w, Section.Optimizer, optimizer, static (w, a) => WriteAdam(w, a));
        if (state.ValueOptimizer is { } valueOptimizer)
            WriteSection(w, Section.ValueOptimizer, valueOptimizer, static (w, a) => WriteAdam(w, a));
        if (state.Replay is { Count: > 0 } replay)
            WriteSection(w, Section.Replay, replay, static (w, r) => WriteReplay(w, r));
        if (state.MinibatchShuffle is { } shuffle)
            WriteSection(w, Section.MinibatchShuffle, shuffle, static (w, words) =>
            {
                WriteInt32(w, words.Length);
                foreach (ulong x in words) WriteInt64(w, (long)x);
            });
        if (state.Pending is { Count: > 0 } pending)
            WriteSection(w, Section.PendingBatch, pending, static (w, p) => WritePending(w, p));
        if (state.EvaluationReturn is double evaluationReturn)
            WriteSection(w, Section.Evaluation, evaluationReturn, static (w, v) => WriteDouble(w, v));

        byte[] bytes = new byte[w.WrittenCount + TrailerSize];
        w.WrittenSpan.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)(w.WrittenCount - HeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(w.WrittenCount), Crc32.HashToUInt32(bytes.AsSpan(0, w.WrittenCount)));
        return bytes;
    }

    /// <summary>
    /// Loads the file into the non-null objects of <paramref name="state"/> and sets its tag and
    /// counters. Nothing is changed unless the whole file checks out and every requested section is
    /// present with the sizes of the object it goes into.
    /// </summary>
    public static void Load(string path, TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Deserialize(path, ReadAllBytes(path), state);
    }

    /// <summary>Like <see cref="Load"/> from bytes; <paramref name="path"/> only names the source in errors.</summary>
    public static void Deserialize(string path, ReadOnlySpan<byte> bytes, TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ReadOnlySpan<byte> payload = CheckEnvelope(path, bytes);
        // First pass validates everything, the second applies: a bad file leaves every object untouched.
        ApplySections(path, payload, state, apply: false);
        ApplySections(path, payload, state, apply: true);
    }

    /// <summary>Reads what a checkpoint holds (sizes, tag, counters) without loading it, to build matching objects.</summary>
    public static CheckpointInfo ReadInfo(string path) => ReadInfo(path, ReadAllBytes(path));

    /// <summary>Like <see cref="ReadInfo(string)"/> from bytes; <paramref name="path"/> only names the source in errors.</summary>
    public static CheckpointInfo ReadInfo(string path, ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<byte> payload = CheckEnvelope(path, bytes);
        var info = new CheckpointInfo();
        var sections = new SectionReader(path, payload);
        while (sections.Next(out Section id, out ReadOnlySpan<byte> body))
        {
            var r = new FieldReader(path, id, body);
            switch (id)
            {
                case Section.Meta:
                    info.Tag = r.String();
                    info.StepCount = r.Int64();
                    info.EpisodeCount = r.Int64();
                    info.UpdateCount = r.Int64();
                    break;
                case Section.Policy:
                    info.PolicyObservationSize = r.Int32();
                    info.PolicyActionSize = r.Int32();
                    info.PolicyHiddenSizes = r.Sizes();
                    break;
                case Section.Value:
                    info.ValueObservationSize = r.Int32();
                    info.ValueHiddenSizes = r.Sizes();
                    break;
                case Section.ObservationNormalizer:
                    info.ObservationNormalizerSize = r.Int32();
                    break;
                case Section.RewardScaler:
                    info.RewardScalerGamma = r.Double();
                    break;
                case Section.Optimizer:
                    info.OptimizerParameterCount = r.Int32();
                    break;
                case Section.ValueOptimizer:
                    info.ValueOptimizerParameterCount = r.Int32();
                    break;
                case Section.Replay:
                    info.ReplayBatches = r.Int32();
                    info.ReplayBatchSteps = r.Int32();
                    break;
                case Section.PendingBatch:
                    ReadPendingInfo(path, body, info);
                    break;
            }
        }
        return info;
    }

    /// <summary>The batch in progress's size; a section that does not parse reads as none (it never refuses the file).</summary>
    private static void ReadPendingInfo(string path, ReadOnlySpan<byte> body, CheckpointInfo info)
    {
        try
        {
            var r = new FieldReader(path, Section.PendingBatch, body);
            r.String(); // the algorithm
            int steps = r.Int32();
            r.Int32(); // observation size
            r.Int32(); // action size
            int count = r.Int32();
            (info.PendingBatchSteps, info.PendingTransitions) = (steps, count);
        }
        catch (CheckpointException)
        {
            (info.PendingBatchSteps, info.PendingTransitions) = (0, 0);
        }
    }

    /// <summary>The file's bytes; a missing or unreadable file is a <see cref="CheckpointException"/>.</summary>
    public static byte[] ReadAllBytes(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, e is FileNotFoundException or DirectoryNotFoundException
                ? "file not found" : "cannot be read: " + e.Message, e);
        }
    }

    private static ReadOnlySpan<byte> CheckEnvelope(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderSize + TrailerSize)
            throw new CheckpointException(path, $"truncated: {bytes.Length} bytes is shorter than the {HeaderSize + TrailerSize}-byte header and CRC");
        if (!bytes[..Magic.Length].SequenceEqual(Magic))
            throw new CheckpointException(path, "not a RobotPG checkpoint (wrong magic)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (version != FormatVersion)
            throw new CheckpointException(path, $"format version {version}, this build reads version {FormatVersion}");
        long payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        long expected = HeaderSize + payloadLength + TrailerSize;
        if (bytes.Length < expected)
            throw new CheckpointException(path, $"truncated: {bytes.Length} bytes, the header announces {expected}");
        if (bytes.Length > expected)
            throw new CheckpointException(path, $"{bytes.Length - expected} unexpected bytes after the end of the checkpoint");
        int end = (int)(HeaderSize + payloadLength);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes[end..]);
        uint actual = Crc32.HashToUInt32(bytes[..end]);
        if (stored != actual)
            throw new CheckpointException(path, $"corrupt: CRC-32 is 0x{actual:x8}, the file says 0x{stored:x8}");
        return bytes[HeaderSize..end];
    }

    private static void ApplySections(string path, ReadOnlySpan<byte> payload, TrainingState state, bool apply)
    {
        bool policy = false, value = false, normalizer = false, scaler = false, optimizer = false, valueOptimizer = false, meta = false;
        ReadOnlySpan<byte> pendingBody = default;
        bool hasPending = false;
        var sections = new SectionReader(path, payload);
        while (sections.Next(out Section id, out ReadOnlySpan<byte> body))
        {
            var r = new FieldReader(path, id, body);
            switch (id)
            {
                case Section.Meta:
                    meta = true;
                    string tag = r.String();
                    long steps = r.Int64(), episodes = r.Int64(), updates = r.Int64();
                    r.End();
                    if (apply)
                    {
                        state.Tag = tag;
                        state.StepCount = steps;
                        state.EpisodeCount = episodes;
                        state.UpdateCount = updates;
                    }
                    break;
                case Section.Policy when state.Policy is { } p:
                    policy = true;
                    ReadPolicy(ref r, p, apply);
                    break;
                case Section.Value when state.Value is { } v:
                    value = true;
                    ReadValue(ref r, v, apply);
                    break;
                case Section.ObservationNormalizer when state.ObservationNormalizer is { } n:
                    normalizer = true;
                    ReadStatistics(ref r, n, "observation normaliser", apply);
                    r.End();
                    break;
                case Section.RewardScaler when state.RewardScaler is { } s:
                    scaler = true;
                    ReadRewardScaler(ref r, s, apply);
                    break;
                case Section.Optimizer when state.Optimizer is { } a:
                    optimizer = true;
                    ReadAdam(ref r, a, "optimiser", apply);
                    break;
                case Section.ValueOptimizer when state.ValueOptimizer is { } a:
                    valueOptimizer = true;
                    ReadAdam(ref r, a, "value optimiser", apply);
                    break;
                case Section.Replay when state.Replay is { } replay:
                    ReadReplay(ref r, replay, state, apply);
                    break;
                case Section.MinibatchShuffle when state.MinibatchShuffle is { } shuffle:
                    ReadShuffle(ref r, shuffle, state, apply);
                    break;
                case Section.PendingBatch:
                    pendingBody = body;
                    hasPending = true;
                    break;
                case Section.Evaluation:
                    double evaluationReturn = r.Double();
                    r.End();
                    if (!double.IsFinite(evaluationReturn)) r.Fail($"malformed: the evaluation return is {evaluationReturn}");
                    if (apply) state.EvaluationReturn = evaluationReturn;
                    break;
            }
        }
        if (!meta) throw new CheckpointException(path, "has no meta section");
        if (state.Policy is not null && !policy) throw new CheckpointException(path, "holds no policy");
        if (state.Value is not null && !value) throw new CheckpointException(path, "holds no value network");
        if (state.ObservationNormalizer is not null && !normalizer) throw new CheckpointException(path, "holds no observation normaliser");
        if (state.RewardScaler is not null && !scaler) throw new CheckpointException(path, "holds no reward scaler");
        if (state.Optimizer is not null && !optimizer) throw new CheckpointException(path, "holds no optimiser state");
        if (state.ValueOptimizer is not null && !valueOptimizer) throw new CheckpointException(path, "holds no value optimiser state");
        // Last, once the rest is known to load: the replay's restore above moves the slot the batch in progress goes to.
        if (apply && state.Pending is { } pending)
        {
            pending.Count = 0;
            pending.Open = false;
            if (hasPending) ReadPending(path, pendingBody, pending, state);
        }
    }

    private static void ReadPolicy(ref FieldReader r, GaussianPolicy policy, bool apply)
    {
        int obs = r.Int32(), act = r.Int32();
        int[] hidden = r.Sizes();
        if (obs != policy.ObservationSize || act != policy.ActionSize || !hidden.AsSpan().SequenceEqual(policy.HiddenSizes))
            r.Fail($"policy sizes {Describe(obs, hidden, act)} do not match the policy being loaded {Describe(policy.ObservationSize, policy.HiddenSizes, policy.ActionSize)}");
        r.Floats(policy.Parameters, "policy parameters", apply);
        r.End();
    }

    private static void ReadValue(ref FieldReader r, ValueNetwork value, bool apply)
    {
        int obs = r.Int32();
        int[] hidden = r.Sizes();
        if (obs != value.ObservationSize || !hidden.AsSpan().SequenceEqual(value.HiddenSizes))
            r.Fail($"value network sizes {Describe(obs, hidden, 1)} do not match the network being loaded {Describe(value.ObservationSize, value.HiddenSizes, 1)}");
        r.Floats(value.Parameters, "value parameters", apply);
        r.End();
    }

    private static void ReadRewardScaler(ref FieldReader r, RewardScaler scaler, bool apply)
    {
        double gamma = r.Double();
        double discounted = r.Double();
        if (gamma != scaler.Gamma) r.Fail($"reward scaler γ {gamma} differs from the configured {scaler.Gamma}");
        if (!double.IsFinite(discounted)) r.Fail("reward scaler return is not finite");
        int size = r.Int32();
        double epsilon = r.Double(), count = r.Double();
        if (size != 1) r.Fail($"reward scaler statistics have size {size}, expected 1");
        if (!(count > 0) || !double.IsFinite(count) || !double.IsFinite(epsilon)) r.Fail("reward scaler statistics are invalid");
        double mean = r.Double(), variance = r.Double();
        if (!double.IsFinite(mean) || !(variance >= 0) || !double.IsFinite(variance)) r.Fail("reward scaler statistics are invalid");
        r.End();
        if (apply) scaler.Restore(discounted, [mean], [variance], count);
    }

    private static void ReadStatistics(ref FieldReader r, RunningMeanStd target, string what, bool apply)
    {
        int size = r.Int32();
        if (size != target.Size) r.Fail($"{what} has {size} components, the one being loaded has {target.Size}");
        r.Double(); // ε is configuration, kept by the target
        double count = r.Double();
        if (!(count > 0) || !double.IsFinite(count)) r.Fail($"{what} count {count} is invalid");
        double[] mean = r.Doubles(size, $"{what} mean");
        double[] variance = r.Doubles(size, $"{what} variance");
        foreach (double x in mean) if (!double.IsFinite(x)) r.Fail($"{what} mean is not finite");
        foreach (double x in variance) if (!(x >= 0) || !double.IsFinite(x)) r.Fail($"{what} variance is invalid");
        if (apply) target.Restore(mean, variance, count);
    }

    private static void ReadAdam(ref FieldReader r, Adam adam, string what, bool apply)
    {
        int count = r.Int32();
        if (count != adam.ParameterCount) r.Fail($"{what} covers {count} parameters, the one being loaded {adam.ParameterCount}");
        float lr = r.Single(), beta1 = r.Single(), beta2 = r.Single(), eps = r.Single();
        long t = r.Int64();
        if (beta1 != adam.Beta1 || beta2 != adam.Beta2)
            r.Fail($"{what} betas ({beta1}, {beta2}) differ from the configured ({adam.Beta1}, {adam.Beta2})");
        if (t < 0) r.Fail($"{what} step count {t} is negative");
        _ = eps; // ε is configuration, kept by the target
        r.Floats(adam.FirstMoment, $"{what} first moment", apply);
        r.Floats(adam.SecondMoment, $"{what} second moment", apply);
        r.End();
        if (apply)
        {
            adam.LearningRate = lr;
            adam.StepCount = t;
        }
    }

    private static void ReadReplay(ref FieldReader r, BatchReplay replay, TrainingState state, bool apply)
    {
        int count = r.Int32(), steps = r.Int32(), obs = r.Int32(), act = r.Int32();
        if (count < 1 || steps < 1 || obs < 1 || act < 1)
            r.Fail($"malformed: the Replay section announces {count} batches of {steps} steps of {obs} → {act}");
        if (obs != replay.ObservationSize || act != replay.ActionSize)
            r.Fail($"replay transitions are {obs} → {act}, the learner's {replay.ObservationSize} → {replay.ActionSize}");
        // What the announced batches need at least (the arrays below are sized from the file): refuse before allocating.
        long need = (long)count * steps * (4L * (2 * obs + act + 2) + 1);
        if (need > r.Remaining)
            r.Fail($"malformed: the Replay section ends early: {count} batches of {steps} steps need at least {need} bytes, {r.Remaining} remain");
        var batches = new (float[] Obs, float[] Act, float[] LogProb, float[] Reward, byte[] Flags, float[] Final, float[]? Next)[count];
        for (int b = 0; b < count; b++)
        {
            string where = $"replay batch {b + 1} of {count}";
            float[] o = new float[steps * obs], a = new float[steps * act], lp = new float[steps], rw = new float[steps], fin = new float[steps * obs];
            r.Floats(o, where + " observations", apply: true);
            r.Floats(a, where + " actions", apply: true);
            r.Floats(lp, where + " behaviour log-probs", apply: true);
            r.Floats(rw, where + " rewards", apply: true);
            byte[] flags = r.Bytes(steps, where + " episode ends").ToArray();
            foreach (byte f in flags) if (f > 3) r.Fail($"malformed: {where} has episode-end flags {f}");
            r.Floats(fin, where + " observations after cut steps", apply: true);
            byte hasNext = r.Byte();
            if (hasNext > 1) r.Fail($"malformed: {where} has next-observation flag {hasNext}");
            float[]? next = hasNext == 1 ? new float[obs] : null;
            if (next is not null) r.Floats(next, where + " next observation", apply: true);
            batches[b] = (o, a, lp, rw, flags, fin, next);
        }
        r.End();
        if (!apply) return;
        // A learner configured with fewer batches keeps the newest; batches of another length cannot be replayed.
        int keep = steps == replay.BatchSteps ? Math.Min(count, replay.Batches) : 0;
        if (keep < count)
            state.ReplayNote = keep > 0
                ? $"the checkpoint's replay holds {count} batches, this learner keeps {replay.Batches} (learning.replayBatches): resumed with the newest {keep}"
                : $"the checkpoint's replay batches have {steps} steps, this learner's {replay.BatchSteps} (learning.batchSteps): resumed with an empty replay";
        replay.Clear();
        for (int b = count - keep; b < count; b++)
        {
            var (o, a, lp, rw, flags, fin, next) = batches[b];
            for (int t = 0; t < steps; t++)
                replay.Record(t, o.AsSpan(t * obs, obs), a.AsSpan(t * act, act), lp[t], rw[t], (flags[t] & 1) != 0, (flags[t] & 2) != 0,
                    fin.AsSpan(t * obs, obs));
            replay.Commit(next);
        }
    }

    /// <summary>
    /// Loads the batch in progress when it is the learner's kind (algorithm, batch steps, sizes, raw steps for a replay);
    /// otherwise, or when the section does not parse, loads nothing of it and sets the note. Parsed whole before any of
    /// it is copied, so the batch is either the file's or empty.
    /// </summary>
    private static void ReadPending(string path, ReadOnlySpan<byte> body, PendingBatch pending, TrainingState state)
    {
        try
        {
            var r = new FieldReader(path, Section.PendingBatch, body);
            RolloutBuffer rollout = pending.Rollout;
            string algorithm = r.String();
            int steps = r.Int32(), obs = r.Int32(), act = r.Int32(), count = r.Int32();
            if (steps < 1 || obs < 1 || act < 1 || count < 1 || count > steps)
                r.Fail($"malformed: it announces {count} transitions of a {steps}-step batch of {obs} → {act}");
            if (algorithm != pending.Algorithm)
                r.Fail($"the batch was collected by {algorithm}, this learner runs {pending.Algorithm} (learning.algorithm)");
            if (steps != rollout.Capacity)
                r.Fail($"the batch has {steps} steps, this learner's {rollout.Capacity} (learning.batchSteps)");
            if (obs != rollout.ObservationSize || act != rollout.ActionSize)
                r.Fail($"the batch's transitions are {obs} → {act}, the learner's {rollout.ObservationSize} → {rollout.ActionSize}");
            float[] o = new float[count * obs], a = new float[count * act], lp = new float[count], v = new float[count], rw = new float[count], boot = new float[count];
            r.Floats(o, "pending observations", apply: true);
            r.Floats(a, "pending actions", apply: true);
            r.Floats(lp, "pending behaviour log-probs", apply: true);
            r.Floats(v, "pending values", apply: true);
            r.Floats(rw, "pending rewards", apply: true);
            r.Floats(boot, "pending truncation bootstraps", apply: true);
            byte[] flags = r.Bytes(count, "pending episode ends").ToArray();
            foreach (byte f in flags) if (f > 3) r.Fail($"malformed: episode-end flags {f}");
            byte open = r.Byte();
            if (open > 1) r.Fail($"malformed: open flag {open}");
            if (open == 1 && flags[count - 1] != 0) r.Fail("malformed: the last transition's episode ended, yet the batch is marked open");
            float[] next = new float[obs];
            if (open == 1) r.Floats(next, "pending next observation", apply: true);
            byte hasRaw = r.Byte();
            if (hasRaw > 1) r.Fail($"malformed: raw-observations flag {hasRaw}");
            float[] raw = new float[count * obs], final = new float[count * obs];
            if (hasRaw == 1)
            {
                r.Floats(raw, "pending raw observations", apply: true);
                r.Floats(final, "pending raw observations after cut steps", apply: true);
            }
            r.End();
            if (pending.Replay is not null && hasRaw == 0)
                r.Fail("the batch holds no raw observations, which this learner's replay needs (learning.replayBatches)");

            for (int t = 0; t < count; t++)
            {
                o.AsSpan(t * obs, obs).CopyTo(rollout.Observation(t));
                a.AsSpan(t * act, act).CopyTo(rollout.Action(t));
                rollout.Record(t, lp[t], v[t], rw[t], (flags[t] & 1) != 0, (flags[t] & 2) != 0, boot[t]);
                pending.Replay?.Record(t, raw.AsSpan(t * obs, obs), a.AsSpan(t * act, act), lp[t], rw[t], (flags[t] & 1) != 0, (flags[t] & 2) != 0,
                    final.AsSpan(t * obs, obs));
            }
            next.CopyTo(pending.NextObservation);
            pending.Count = count;
            pending.Open = open == 1;
        }
        catch (CheckpointException e)
        {
            state.PendingNote = $"checkpoint '{path}': the batch in progress (PendingBatch section) is not resumed: {e.Reason}; the learner starts an empty batch";
        }
    }

    private static void WritePending(ArrayBufferWriter<byte> w, PendingBatch p)
    {
        RolloutBuffer rollout = p.Rollout;
        int n = p.Count, obs = rollout.ObservationSize, act = rollout.ActionSize;
        byte[] algorithm = Encoding.UTF8.GetBytes(p.Algorithm);
        WriteInt32(w, algorithm.Length);
        w.Write(algorithm);
        WriteInt32(w, rollout.Capacity);
        WriteInt32(w, obs);
        WriteInt32(w, act);
        WriteInt32(w, n);
        WriteFloats(w, rollout.Observations[..(n * obs)]);
        WriteFloats(w, rollout.Actions[..(n * act)]);
        WriteFloats(w, rollout.LogProbs[..n]);
        WriteFloats(w, rollout.Values[..n]);
        WriteFloats(w, rollout.Rewards[..n]);
        WriteFloats(w, rollout.BootstrapValues[..n]);
        WriteFlags(w, rollout.Terminated[..n], rollout.Truncated[..n]);
        w.GetSpan(1)[0] = p.Open ? (byte)1 : (byte)0;
        w.Advance(1);
        if (p.Open) WriteFloats(w, p.NextObservation);
        w.GetSpan(1)[0] = p.Replay is null ? (byte)0 : (byte)1;
        w.Advance(1);
        if (p.Replay is null) return;
        KeptBatch b = p.Replay.Collecting(n);
        WriteFloats(w, b.Observations);
        WriteFloats(w, b.FinalObservations);
    }

    private static void WriteFlags(ArrayBufferWriter<byte> w, ReadOnlySpan<bool> terminated, ReadOnlySpan<bool> truncated)
    {
        WriteInt32(w, terminated.Length);
        Span<byte> flags = w.GetSpan(terminated.Length);
        for (int t = 0; t < terminated.Length; t++) flags[t] = (byte)((terminated[t] ? 1 : 0) | (truncated[t] ? 2 : 0));
        w.Advance(terminated.Length);
    }

    private static void ReadShuffle(ref FieldReader r, ulong[] target, TrainingState state, bool apply)
    {
        int count = r.Int32();
        if (count != Prng.StateLength || count != target.Length)
            r.Fail($"minibatch shuffle state has {count} words, expected {Prng.StateLength}");
        Span<ulong> words = stackalloc ulong[Prng.StateLength];
        for (int i = 0; i < words.Length; i++) words[i] = (ulong)r.Int64();
        r.End();
        if (Prng.FromState(words) is null) r.Fail("minibatch shuffle state is not a generator's (all zero or a bad spare)");
        if (!apply) return;
        words.CopyTo(target);
        state.MinibatchShuffleLoaded = true;
    }

    private static void WriteReplay(ArrayBufferWriter<byte> w, BatchReplay replay)
    {
        WriteInt32(w, replay.Count);
        WriteInt32(w, replay.BatchSteps);
        WriteInt32(w, replay.ObservationSize);
        WriteInt32(w, replay.ActionSize);
        for (int j = 0; j < replay.Count; j++)
        {
            KeptBatch b = replay.Kept(j);
            WriteFloats(w, b.Observations);
            WriteFloats(w, b.Actions);
            WriteFloats(w, b.LogProbs);
            WriteFloats(w, b.Rewards);
            WriteFlags(w, b.Terminated, b.Truncated);
            WriteFloats(w, b.FinalObservations);
            w.GetSpan(1)[0] = b.NextObservation.IsEmpty ? (byte)0 : (byte)1;
            w.Advance(1);
            if (!b.NextObservation.IsEmpty) WriteFloats(w, b.NextObservation);
        }
    }

    private static string Describe(int input, ReadOnlySpan<int> hidden, int output)
    {
        var sb = new StringBuilder().Append(input);
        foreach (int h in hidden) sb.Append('→').Append(h);
        return sb.Append('→').Append(output).ToString();
    }

    private static void WriteSection<T>(ArrayBufferWriter<byte> w, Section id, T item, Action<ArrayBufferWriter<byte>, T> body)
    {
        var section = new ArrayBufferWriter<byte>(1024);
        body(section, item);
        WriteUInt32(w, (uint)id);
        WriteInt32(w, section.WrittenCount);
        w.Write(section.WrittenSpan);
    }

    private static void WriteStatistics(ArrayBufferWriter<byte> w, RunningMeanStd s)
    {
        WriteInt32(w, s.Size);
        WriteDouble(w, s.Epsilon);
        WriteDouble(w, s.Count);
        foreach (double x in s.Mean) WriteDouble(w, x);
        foreach (double x in s.Variance) WriteDouble(w, x);
    }

    private static void WriteAdam(ArrayBufferWriter<byte> w, Adam a)
    {
        WriteInt32(w, a.ParameterCount);
        WriteSingle(w, a.LearningRate);
        WriteSingle(w, a.Beta1);
        WriteSingle(w, a.Beta2);
        WriteSingle(w, a.Epsilon);
        WriteInt64(w, a.StepCount);
        WriteFloats(w, a.FirstMoment);
        WriteFloats(w, a.SecondMoment);
    }

    private static void WriteSizes(ArrayBufferWriter<byte> w, ReadOnlySpan<int> sizes)
    {
        WriteInt32(w, sizes.Length);
        foreach (int s in sizes) WriteInt32(w, s);
    }

    private static void WriteFloats(ArrayBufferWriter<byte> w, ReadOnlySpan<float> values)
    {
        WriteInt32(w, values.Length);
        foreach (float x in values) WriteSingle(w, x);
    }

    private static void WriteUInt32(ArrayBufferWriter<byte> w, uint x) { BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), x); w.Advance(4); }
    private static void WriteInt32(ArrayBufferWriter<byte> w, int x) { BinaryPrimitives.WriteInt32LittleEndian(w.GetSpan(4), x); w.Advance(4); }
    private static void WriteInt64(ArrayBufferWriter<byte> w, long x) { BinaryPrimitives.WriteInt64LittleEndian(w.GetSpan(8), x); w.Advance(8); }
    private static void WriteSingle(ArrayBufferWriter<byte> w, float x) { BinaryPrimitives.WriteSingleLittleEndian(w.GetSpan(4), x); w.Advance(4); }
    private static void WriteDouble(ArrayBufferWriter<byte> w, double x) { BinaryPrimitives.WriteDoubleLittleEndian(w.GetSpan(8), x); w.Advance(8); }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private ref struct SectionReader(string path, ReadOnlySpan<byte> payload)
    {
        private readonly string _path = path;
        private ReadOnlySpan<byte> _rest = payload;

        public bool Next(out Section id, out ReadOnlySpan<byte> body)
        {
            id = default;
            body = default;
            if (_rest.IsEmpty) return false;
            if (_rest.Length < 8) throw new CheckpointException(_path, "malformed: a section header is cut short");
            id = (Section)BinaryPrimitives.ReadUInt32LittleEndian(_rest);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(_rest[4..]);
            if (length > (uint)(_rest.Length - 8))
                throw new CheckpointException(_path, $"malformed: section {(uint)id} claims {length} bytes, {_rest.Length - 8} remain");
            body = _rest.Slice(8, (int)length);
            _rest = _rest[(8 + (int)length)..];
            return true;
        }
    }

    private ref struct FieldReader(string path, Section section, ReadOnlySpan<byte> body)
    {
        private readonly string _path = path;
        private readonly Section _section = section;
        private ReadOnlySpan<byte> _rest = body;

        public void Fail(string reason) => throw new CheckpointException(_path, reason);

        private ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > _rest.Length)
                throw new CheckpointException(_path, $"malformed: the {_section} section ends early");
            ReadOnlySpan<byte> taken = _rest[..n];
            _rest = _rest[n..];
            return taken;
        }

        public int Remaining => _rest.Length;

        /// <summary>A length-prefixed byte array of exactly <paramref name="count"/> bytes.</summary>
        public ReadOnlySpan<byte> Bytes(int count, string what)
        {
            int length = Int32();
            if (length != count) Fail($"malformed: {what}: the file holds {length} bytes, expected {count}");
            return Take(count);
        }

        public byte Byte() => Take(1)[0];
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public float Single() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));
        public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public string String()
        {
            int length = Int32();
            return Encoding.UTF8.GetString(Take(length));
        }

        public int[] Sizes()
        {
            int count = Int32();
            if (count < 0 || count > 64) Fail($"malformed: {count} hidden layers in the {_section} section");
            var sizes = new int[count];
            for (int i = 0; i < count; i++)
            {
                sizes[i] = Int32();
                if (sizes[i] < 1) Fail($"malformed: hidden size {sizes[i]} in the {_section} section");
            }
            return sizes;
        }

        public double[] Doubles(int count, string what)
        {
            if (count < 0 || (long)count * 8 > _rest.Length) Fail($"malformed: {what} ends early");
            var values = new double[count];
            for (int i = 0; i < count; i++) values[i] = Double();
            return values;
        }

        /// <summary>Reads a length-prefixed float array that must match <paramref name="target"/>'s length and be finite.</summary>
        public void Floats(Span<float> target, string what, bool apply)
        {
            int count = Int32();
            if (count != target.Length) Fail($"{what}: the file holds {count} values, the object being loaded has {target.Length}");
            ReadOnlySpan<byte> bytes = Take(checked(count * 4));
            for (int i = 0; i < count; i++)
            {
                float x = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                if (!float.IsFinite(x)) Fail($"{what}: value {i} is not finite");
                if (apply) target[i] = x;
            }
        }

        public void End()
        {
            if (!_rest.IsEmpty) Fail($"malformed: {_rest.Length} unexpected bytes at the end of the {_section} section");
        }
    }
}

/// <summary>What a checkpoint holds, read without loading it (null/0 = section absent).</summary>
public sealed class CheckpointInfo
{
    public string Tag { get; set; } = "";
    public long StepCount { get; set; }
    public long EpisodeCount { get; set; }
    public long UpdateCount { get; set; }
    public int PolicyObservationSize { get; set; }
    public int PolicyActionSize { get; set; }
    public int[]? PolicyHiddenSizes { get; set; }
    public int ValueObservationSize { get; set; }
    public int[]? ValueHiddenSizes { get; set; }
    public int ObservationNormalizerSize { get; set; }
    public double? RewardScalerGamma { get; set; }
    public int OptimizerParameterCount { get; set; }
    public int ValueOptimizerParameterCount { get; set; }
    public int ReplayBatches { get; set; }
    public int ReplayBatchSteps { get; set; }
    public int PendingBatchSteps { get; set; }

    /// <summary>Transitions of the batch in progress the checkpoint holds (0: none).</summary>
    public int PendingTransitions { get; set; }
}
