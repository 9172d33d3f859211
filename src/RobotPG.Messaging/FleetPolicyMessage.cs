using System.Buffers.Binary;
using System.IO.Hashing;

namespace RobotPG.Messaging;

/// <summary>
/// The body of a fleet policy broadcast (<c>robotpg/fleet/{fleet}/policy</c>, retained, QoS 1, inside
/// the operator's signature envelope): the policy version, the network's shape, its parameters and the
/// observation normaliser it was trained with. The version only ever grows, which is also what makes a
/// replayed old broadcast harmless: a robot takes only versions above the one it runs.
/// Layout (little-endian): magic "RP", version 1, flags 0, u32 total length, u64 policy version,
/// u16 observation size, u16 action size, u16 hidden layer count, u16 0, u16 hidden sizes[],
/// u32 parameter count, f32 parameters[], u8 normaliser present (+ f64 count, f64 mean[n], f64 variance[n]),
/// CRC-32 (IEEE) of all preceding bytes. Buffers are sized once for one shape.
/// </summary>
public sealed class FleetPolicyMessage
{
    public const ushort Magic = 0x5052; // "RP"
    public const byte FormatVersion = 1;
    private const int FixedHeader = 24;

    private readonly int[] _hidden;
    private readonly float[] _parameters;
    private readonly double[] _mean, _variance;

    public FleetPolicyMessage(int observationSize, int actionSize, ReadOnlySpan<int> hiddenSizes, int parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(observationSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(actionSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        ObservationSize = observationSize;
        ActionSize = actionSize;
        _hidden = hiddenSizes.ToArray();
        _parameters = new float[parameterCount];
        _mean = new double[observationSize];
        _variance = new double[observationSize];
    }

    public int ObservationSize { get; }
    public int ActionSize { get; }
    public ReadOnlySpan<int> HiddenSizes => _hidden;
    public ulong Version { get; set; }
    public Span<float> Parameters => _parameters;
    public bool HasNormalizer { get; set; }
    public double NormalizerCount { get; set; }
    public Span<double> NormalizerMean => _mean;
    public Span<double> NormalizerVariance => _variance;

    public int EncodedLength => FixedHeader + 2 * _hidden.Length + 4 + 4 * _parameters.Length + 1
        + (HasNormalizer ? 8 + 16 * ObservationSize : 0) + 4;

    public byte[] Encode()
    {
        var d = new byte[EncodedLength];
        BinaryPrimitives.WriteUInt16LittleEndian(d, Magic);
        d[2] = FormatVersion;
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(4), (uint)d.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(16), (ushort)ObservationSize);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(18), (ushort)ActionSize);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(20), (ushort)_hidden.Length);
        int o = FixedHeader;
        foreach (int h in _hidden) { BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(o), (ushort)h); o += 2; }
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(o), (uint)_parameters.Length);
        o += 4;
        foreach (float p in _parameters) { BinaryPrimitives.WriteSingleLittleEndian(d.AsSpan(o), p); o += 4; }
        d[o++] = HasNormalizer ? (byte)1 : (byte)0;
        if (HasNormalizer)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(d.AsSpan(o), NormalizerCount);
            o += 8;
            foreach (double v in _mean) { BinaryPrimitives.WriteDoubleLittleEndian(d.AsSpan(o), v); o += 8; }
            foreach (double v in _variance) { BinaryPrimitives.WriteDoubleLittleEndian(d.AsSpan(o), v); o += 8; }
        }
        BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(o), Crc32.HashToUInt32(d.AsSpan(0, o)));
        return d;
    }

    /// <summary>
    /// Reads a body of this message's shape. On refusal <paramref name="reason"/> says why in one line;
    /// the message may then hold part of the bytes and must not be used. Non-finite numbers are not
    /// refused here: judging them is the robot's finite guard.
    /// </summary>
    public FrameStatus TryDecode(ReadOnlySpan<byte> body, out string? reason)
    {
        reason = null;
        if (body.Length < FixedHeader + 4 + 1 + 4) { reason = $"{body.Length} bytes is too short for a policy"; return FrameStatus.TooShort; }
        if (BinaryPrimitives.ReadUInt16LittleEndian(body) != Magic) { reason = "not a policy message (magic)"; return FrameStatus.BadMagic; }
        if (body[2] != FormatVersion) { reason = $"policy format version {body[2]} is not {FormatVersion}"; return FrameStatus.UnsupportedVersion; }
        if (body[3] != 0) { reason = "unknown policy flags"; return FrameStatus.BadFlags; }
        if (BinaryPrimitives.ReadUInt32LittleEndian(body[4..]) != (uint)body.Length) { reason = "declared length differs from the bytes"; return FrameStatus.LengthMismatch; }
        if (Crc32.HashToUInt32(body[..^4]) != BinaryPrimitives.ReadUInt32LittleEndian(body[^4..])) { reason = "CRC mismatch"; return FrameStatus.BadChecksum; }
        int n = BinaryPrimitives.ReadUInt16LittleEndian(body[16..]), m = BinaryPrimitives.ReadUInt16LittleEndian(body[18..]);
        int layers = BinaryPrimitives.ReadUInt16LittleEndian(body[20..]);
        bool sameShape = n == ObservationSize && m == ActionSize && layers == _hidden.Length && body.Length >= FixedHeader + 2 * layers + 4;
        int o = FixedHeader;
        for (int i = 0; sameShape && i < layers; i++, o += 2)
            sameShape = BinaryPrimitives.ReadUInt16LittleEndian(body[o..]) == _hidden[i];
        if (!sameShape || BinaryPrimitives.ReadUInt32LittleEndian(body[o..]) != (uint)_parameters.Length)
        {
            reason = $"policy shape is not this robot's {ObservationSize} → [{string.Join(", ", _hidden)}] → {ActionSize}";
            return FrameStatus.BadContent;
        }
        o += 4;
        int rest = body.Length - o - 4;
        int expectWithout = 4 * _parameters.Length + 1, expectWith = expectWithout + 8 + 16 * n;
        if (rest != expectWithout && rest != expectWith) { reason = "policy body length does not match its shape"; return FrameStatus.LengthMismatch; }
        for (int i = 0; i < _parameters.Length; i++, o += 4) _parameters[i] = BinaryPrimitives.ReadSingleLittleEndian(body[o..]);
        byte has = body[o++];
        if (has > 1 || (has == 1) != (rest == expectWith)) { reason = "normaliser flag does not match the length"; return FrameStatus.BadContent; }
        HasNormalizer = has == 1;
        if (HasNormalizer)
        {
            NormalizerCount = BinaryPrimitives.ReadDoubleLittleEndian(body[o..]);
            o += 8;
            for (int i = 0; i < n; i++, o += 8) _mean[i] = BinaryPrimitives.ReadDoubleLittleEndian(body[o..]);
            for (int i = 0; i < n; i++, o += 8) _variance[i] = BinaryPrimitives.ReadDoubleLittleEndian(body[o..]);
        }
        Version = BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
        return FrameStatus.Ok;
    }
}
