using System.Buffers.Binary;
using System.IO.Hashing;

namespace RobotPG.Messaging;

/// <summary>
/// One robot's consecutive transitions for the fleet learner (<c>robotpg/{id}/rollout</c>, QoS 1).
/// Each transition is (observation, action, behaviour log-prob, reward, terminated/truncated): the
/// reward and flags are those the task reported for the action. The observation after the last
/// transition travels along when its episode goes on, so the learner can bootstrap V(s) there.
/// Every transition was sampled by the policy of <see cref="PolicyVersion"/> (the robot tags each one with
/// the version it ran at that step); the behaviour log-probs are that policy's.
/// Layout (little-endian): magic "RB", version 1, flags 0, u32 total length, u64 sequence,
/// u64 policy version, u16 observation size, u16 action size, u32 transition count; per transition
/// obs f32[n], action f32[m], log-prob f32, reward f32, u8 flags (1 terminated, 2 truncated);
/// u8 next-observation present + f32[n]; CRC-32 (IEEE) of all preceding bytes.
/// All buffers are allocated by the constructor; encode and decode allocate nothing.
/// </summary>
public sealed class RolloutBatch
{
    public const ushort Magic = 0x4252; // "RB"
    public const byte FormatVersion = 1;
    public const int HeaderLength = 32;
    public const int CrcLength = 4;

    /// <summary>No rollout batch is larger; anything bigger is refused before it is looked at.</summary>
    public const int MaxEncodedLength = 1 << 20;

    public const byte TerminatedFlag = 1, TruncatedFlag = 2;

    private readonly float[] _observations, _actions, _logProbs, _rewards, _next;
    private readonly byte[] _flags;

    public RolloutBatch(int observationSize, int actionSize, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(observationSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (observationSize > ushort.MaxValue || actionSize > ushort.MaxValue) throw new ArgumentOutOfRangeException(nameof(observationSize), "sizes must fit 16 bits");
        ObservationSize = observationSize;
        ActionSize = actionSize;
        Capacity = capacity;
        if (EncodedLength(observationSize, actionSize, capacity) > MaxEncodedLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"a batch of {capacity} transitions would exceed {MaxEncodedLength} bytes");
        _observations = new float[capacity * observationSize];
        _actions = new float[capacity * actionSize];
        _logProbs = new float[capacity];
        _rewards = new float[capacity];
        _flags = new byte[capacity];
        _next = new float[observationSize];
    }

    public int ObservationSize { get; }
    public int ActionSize { get; }
    public int Capacity { get; }

    public int Count { get; private set; }
    public ulong Sequence { get; set; }
    public ulong PolicyVersion { get; set; }

    /// <summary>The observation after the last transition is present (its episode goes on).</summary>
    public bool HasNextObservation { get; private set; }

    public bool IsFull => Count == Capacity;

    public ReadOnlySpan<float> Observation(int i) => _observations.AsSpan(i * ObservationSize, ObservationSize);
    public ReadOnlySpan<float> Action(int i) => _actions.AsSpan(i * ActionSize, ActionSize);
    public float LogProb(int i) => _logProbs[i];
    public float Reward(int i) => _rewards[i];
    public bool Terminated(int i) => (_flags[i] & TerminatedFlag) != 0;
    public bool Truncated(int i) => (_flags[i] & TruncatedFlag) != 0;
    public ReadOnlySpan<float> NextObservation => _next;

    public static int TransitionLength(int observationSize, int actionSize) => 4 * (observationSize + actionSize + 2) + 1;

    public static int EncodedLength(int observationSize, int actionSize, int count) =>
        HeaderLength + count * TransitionLength(observationSize, actionSize) + 1 + 4 * observationSize + CrcLength;

    public int EncodedLengthNow => EncodedLength(ObservationSize, ActionSize, Count);

    public void Clear()
    {
        Count = 0;
        HasNextObservation = false;
    }

    /// <summary>Appends a transition; false when the batch is full.</summary>
    public bool TryAdd(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float logProb, float reward, bool terminated, bool truncated)
    {
        if (Count == Capacity) return false;
        int i = Count;
        observation[..ObservationSize].CopyTo(_observations.AsSpan(i * ObservationSize, ObservationSize));
        action[..ActionSize].CopyTo(_actions.AsSpan(i * ActionSize, ActionSize));
        _logProbs[i] = logProb;
        _rewards[i] = reward;
        _flags[i] = (byte)((terminated ? TerminatedFlag : 0) | (truncated && !terminated ? TruncatedFlag : 0));
        Count = i + 1;
        return true;
    }

    /// <summary>Sets (or with an empty span clears) the observation after the last transition.</summary>
    public void SetNextObservation(ReadOnlySpan<float> observation)
    {
        HasNextObservation = !observation.IsEmpty;
        if (HasNextObservation) observation[..ObservationSize].CopyTo(_next);
        else Array.Clear(_next);
    }

    /// <summary>Writes the batch into <paramref name="destination"/> and returns its length.</summary>
    public int Encode(Span<byte> destination)
    {
        int length = EncodedLengthNow;
        if (destination.Length < length) throw new ArgumentException($"needs {length} bytes, got {destination.Length}", nameof(destination));
        var d = destination[..length];
        BinaryPrimitives.WriteUInt16LittleEndian(d, Magic);
        d[2] = FormatVersion;
        d[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], (uint)length);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], PolicyVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(d[24..], (ushort)ObservationSize);
        BinaryPrimitives.WriteUInt16LittleEndian(d[26..], (ushort)ActionSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[28..], (uint)Count);
        int o = HeaderLength;
        for (int i = 0; i < Count; i++)
        {
            o = WriteFloats(d, o, Observation(i));
            o = WriteFloats(d, o, Action(i));
            BinaryPrimitives.WriteSingleLittleEndian(d[o..], _logProbs[i]);
            BinaryPrimitives.WriteSingleLittleEndian(d[(o + 4)..], _rewards[i]);
            d[o + 8] = _flags[i];
            o += 9;
        }
        d[o++] = HasNextObservation ? (byte)1 : (byte)0;
        o = WriteFloats(d, o, _next);
        BinaryPrimitives.WriteUInt32LittleEndian(d[o..], Crc32.HashToUInt32(d[..o]));
        return length;
    }

    /// <summary>
    /// Reads a batch of this batch's shape into it. Anything but <see cref="FrameStatus.Ok"/> leaves
    /// the batch empty: wrong magic/version/flags, a declared length or transition count that does not
    /// match the bytes, another shape, more transitions than the capacity, a bad CRC, unknown
    /// transition flags or a non-finite number (a broken robot must not poison the learner).
    /// </summary>
    public FrameStatus TryDecode(ReadOnlySpan<byte> frame)
    {
        Clear();
        if (frame.Length > MaxEncodedLength) return FrameStatus.Oversized;
        if (frame.Length < HeaderLength + 1 + CrcLength) return FrameStatus.TooShort;
        if (BinaryPrimitives.ReadUInt16LittleEndian(frame) != Magic) return FrameStatus.BadMagic;
        if (frame[2] != FormatVersion) return FrameStatus.UnsupportedVersion;
        if (frame[3] != 0) return FrameStatus.BadFlags;
        if (BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]) != (uint)frame.Length) return FrameStatus.LengthMismatch;
        if (Crc32.HashToUInt32(frame[..^CrcLength]) != BinaryPrimitives.ReadUInt32LittleEndian(frame[^CrcLength..])) return FrameStatus.BadChecksum;
        int n = BinaryPrimitives.ReadUInt16LittleEndian(frame[24..]), m = BinaryPrimitives.ReadUInt16LittleEndian(frame[26..]);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(frame[28..]);
        if (n != ObservationSize || m != ActionSize || count > (uint)Capacity) return FrameStatus.BadContent;
        if (EncodedLength(n, m, (int)count) != frame.Length) return FrameStatus.LengthMismatch;
        int o = HeaderLength;
        for (int i = 0; i < (int)count; i++)
        {
            if (!ReadFloats(frame, ref o, _observations.AsSpan(i * n, n)) || !ReadFloats(frame, ref o, _actions.AsSpan(i * m, m)))
                return FrameStatus.BadContent;
            float logProb = BinaryPrimitives.ReadSingleLittleEndian(frame[o..]);
            float reward = BinaryPrimitives.ReadSingleLittleEndian(frame[(o + 4)..]);
            byte flags = frame[o + 8];
            o += 9;
            if (!float.IsFinite(logProb) || !float.IsFinite(reward) || flags > TruncatedFlag) return FrameStatus.BadContent;
            _logProbs[i] = logProb;
            _rewards[i] = reward;
            _flags[i] = flags;
        }
        byte hasNext = frame[o++];
        if (hasNext > 1 || !ReadFloats(frame, ref o, _next)) return FrameStatus.BadContent;
        Sequence = BinaryPrimitives.ReadUInt64LittleEndian(frame[8..]);
        PolicyVersion = BinaryPrimitives.ReadUInt64LittleEndian(frame[16..]);
        HasNextObservation = hasNext == 1;
        Count = (int)count;
        return FrameStatus.Ok;
    }

    private static int WriteFloats(Span<byte> d, int o, ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(d[o..], v);
            o += 4;
        }
        return o;
    }

    private static bool ReadFloats(ReadOnlySpan<byte> s, ref int o, Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float v = BinaryPrimitives.ReadSingleLittleEndian(s[o..]);
            if (!float.IsFinite(v)) return false;
            values[i] = v;
            o += 4;
        }
        return true;
    }
}
