using System.Buffers;
using System.Buffers.Binary;

namespace RobotPG.Messaging;

/// <summary>One hardware PWM channel setting carried by an actuator frame.</summary>
public readonly record struct PwmSetting(byte Chip, byte Channel, bool Running, float FrequencyHz, float DutyCycle);

/// <summary>
/// What the controller did to the bus during one control step, for the simulator to replay on its
/// emulated chips: I2C write transfers as (address, bytes) records in the order they happened (the
/// first byte of each is the register pointer), GPIO output levels, hardware PWM settings. It names
/// the sensor tick it answers. Allocated once; encode and decode reuse it. Byte layout: README.md,
/// "Actuator frame".
/// </summary>
public sealed class SimActuatorFrame
{
    public const int MaxI2cWrites = 64;
    public const int MaxI2cWriteLength = 255;
    public const int MaxI2cBytes = 2048;
    public const int MaxPinLevels = 32;
    public const int MaxPins = 64;
    public const int MaxPwmChannels = 4;

    private const int BodyOffset = FrameFormat.HeaderLength;
    private const int RecordsOffset = BodyOffset + 12;
    private const int PwmRecordLength = 12;

    /// <summary>Header flag bit: <see cref="RequestsReset"/>.</summary>
    public const byte ResetFlag = 0x01;

    private readonly byte[] _writeAddresses = new byte[MaxI2cWrites];
    private readonly int[] _writeOffsets = new int[MaxI2cWrites];
    private readonly int[] _writeLengths = new int[MaxI2cWrites];
    private readonly byte[] _writeBytes = new byte[MaxI2cBytes];
    private int _writeBytesUsed;
    private readonly byte[] _pins = new byte[MaxPinLevels];
    private readonly bool[] _levels = new bool[MaxPinLevels];
    private readonly PwmSetting[] _pwm = new PwmSetting[MaxPwmChannels];

    /// <summary>Largest encoded frame.</summary>
    public const int MaxEncodedLength = RecordsOffset + 2 * MaxI2cWrites + MaxI2cBytes + 2 * MaxPinLevels + PwmRecordLength * MaxPwmChannels + FrameFormat.CrcLength;

    /// <summary>The controller's own counter of actuator frames (one per control step).</summary>
    public ulong Sequence { get; set; }

    /// <summary>The <see cref="SimSensorFrame.Sequence"/> of the sensor frame this step read.</summary>
    public ulong AnswersTick { get; set; }

    /// <summary>
    /// The controller asks for a new episode: the simulator applies this frame's writes, then resets the robot
    /// instead of advancing it, and its next sensor frame shows the reset robot. Carried in the frame (not a
    /// separate command) so the reset lands at the same tick in every run, whatever the broker's timing.
    /// </summary>
    public bool RequestsReset { get; set; }

    public int I2cWriteCount { get; private set; }

    public int PinLevelCount { get; private set; }

    public int PwmCount { get; private set; }

    /// <summary>Empties every record list and drops a reset request (keeps the sequence numbers).</summary>
    public void Clear()
    {
        RequestsReset = false;
        I2cWriteCount = 0;
        PinLevelCount = 0;
        PwmCount = 0;
        _writeBytesUsed = 0;
    }

    /// <summary>Appends one I2C write transfer; false when the frame is full (the write is not recorded).</summary>
    public bool TryAddI2cWrite(int address, ReadOnlySpan<byte> bytes)
    {
        if (address < 0x03 || address > 0x77) throw new ArgumentOutOfRangeException(nameof(address), address, "a 7-bit I2C address is 0x03–0x77");
        if (bytes.IsEmpty || bytes.Length > MaxI2cWriteLength) throw new ArgumentOutOfRangeException(nameof(bytes), bytes.Length, $"an I2C write record is 1–{MaxI2cWriteLength} bytes");
        if (I2cWriteCount == MaxI2cWrites || _writeBytesUsed + bytes.Length > MaxI2cBytes) return false;
        _writeAddresses[I2cWriteCount] = (byte)address;
        _writeOffsets[I2cWriteCount] = _writeBytesUsed;
        _writeLengths[I2cWriteCount] = bytes.Length;
        bytes.CopyTo(_writeBytes.AsSpan(_writeBytesUsed));
        _writeBytesUsed += bytes.Length;
        I2cWriteCount++;
        return true;
    }

    /// <summary>Records a GPIO output level; a pin already in the frame gets its level replaced.</summary>
    public bool TrySetPinLevel(int pin, bool high)
    {
        if ((uint)pin >= MaxPins) throw new ArgumentOutOfRangeException(nameof(pin), pin, $"GPIO numbers in a frame are 0–{MaxPins - 1}");
        for (int i = 0; i < PinLevelCount; i++)
        {
            if (_pins[i] != pin) continue;
            _levels[i] = high;
            return true;
        }
        if (PinLevelCount == MaxPinLevels) return false;
        _pins[PinLevelCount] = (byte)pin;
        _levels[PinLevelCount] = high;
        PinLevelCount++;
        return true;
    }

    /// <summary>Records a hardware PWM channel setting; a channel already in the frame gets replaced.</summary>
    public bool TrySetPwm(PwmSetting setting)
    {
        if (!float.IsFinite(setting.FrequencyHz) || setting.FrequencyHz < 0 || !(setting.DutyCycle >= 0 && setting.DutyCycle <= 1))
            throw new ArgumentOutOfRangeException(nameof(setting), setting, "PWM frequency must be finite and ≥ 0, duty in [0, 1]");
        for (int i = 0; i < PwmCount; i++)
        {
            if (_pwm[i].Chip != setting.Chip || _pwm[i].Channel != setting.Channel) continue;
            _pwm[i] = setting;
            return true;
        }
        if (PwmCount == MaxPwmChannels) return false;
        _pwm[PwmCount++] = setting;
        return true;
    }

    public byte I2cWriteAddress(int index) => _writeAddresses[Check(index, I2cWriteCount)];

    public ReadOnlySpan<byte> I2cWriteData(int index) => _writeBytes.AsSpan(_writeOffsets[Check(index, I2cWriteCount)], _writeLengths[index]);

    public int PinNumber(int index) => _pins[Check(index, PinLevelCount)];

    public bool PinHigh(int index) => _levels[Check(index, PinLevelCount)];

    public PwmSetting Pwm(int index) => _pwm[Check(index, PwmCount)];

    public int EncodedLength => RecordsOffset + 2 * I2cWriteCount + _writeBytesUsed + 2 * PinLevelCount + PwmRecordLength * PwmCount + FrameFormat.CrcLength;

    public int Encode(Span<byte> destination)
    {
        int length = EncodedLength;
        if (destination.Length < length) throw new ArgumentException($"actuator frame needs {length} bytes, the buffer has {destination.Length}", nameof(destination));
        var frame = destination[..length];
        FrameFormat.WriteHeader(frame, FrameFormat.ActuatorMagic, length, Sequence, RequestsReset ? ResetFlag : (byte)0);
        BinaryPrimitives.WriteUInt64LittleEndian(frame[BodyOffset..], AnswersTick);
        BinaryPrimitives.WriteUInt16LittleEndian(frame[(BodyOffset + 8)..], (ushort)I2cWriteCount);
        frame[BodyOffset + 10] = (byte)PinLevelCount;
        frame[BodyOffset + 11] = (byte)PwmCount;
        int at = RecordsOffset;
        for (int i = 0; i < I2cWriteCount; i++)
        {
            frame[at] = _writeAddresses[i];
            frame[at + 1] = (byte)_writeLengths[i];
            _writeBytes.AsSpan(_writeOffsets[i], _writeLengths[i]).CopyTo(frame[(at + 2)..]);
            at += 2 + _writeLengths[i];
        }
        for (int i = 0; i < PinLevelCount; i++, at += 2)
        {
            frame[at] = _pins[i];
            frame[at + 1] = _levels[i] ? (byte)1 : (byte)0;
        }
        for (int i = 0; i < PwmCount; i++, at += PwmRecordLength)
        {
            var p = _pwm[i];
            frame[at] = p.Chip;
            frame[at + 1] = p.Channel;
            frame[at + 2] = p.Running ? (byte)1 : (byte)0;
            frame[at + 3] = 0;
            BinaryPrimitives.WriteSingleLittleEndian(frame[(at + 4)..], p.FrequencyHz);
            BinaryPrimitives.WriteSingleLittleEndian(frame[(at + 8)..], p.DutyCycle);
        }
        FrameFormat.WriteCrc(frame, length);
        return length;
    }

    /// <summary>Decodes into this frame; on anything but <see cref="FrameStatus.Ok"/> the frame is left as it was.</summary>
    public FrameStatus TryDecode(ReadOnlySpan<byte> source)
    {
        var status = FrameFormat.CheckEnvelope(source, FrameFormat.ActuatorMagic, RecordsOffset + FrameFormat.CrcLength, ResetFlag, out ulong sequence, out byte flags);
        if (status != FrameStatus.Ok) return status;
        int writes = BinaryPrimitives.ReadUInt16LittleEndian(source[(BodyOffset + 8)..]);
        int pins = source[BodyOffset + 10];
        int pwms = source[BodyOffset + 11];
        if (writes > MaxI2cWrites || pins > MaxPinLevels || pwms > MaxPwmChannels) return FrameStatus.BadContent;

        int end = source.Length - FrameFormat.CrcLength;
        int at = RecordsOffset;
        int totalBytes = 0;
        for (int i = 0; i < writes; i++)
        {
            if (at + 2 > end) return FrameStatus.BadContent;
            int address = source[at];
            int length = source[at + 1];
            if (address < 0x03 || address > 0x77 || length == 0) return FrameStatus.BadContent;
            totalBytes += length;
            at += 2 + length;
        }
        if (totalBytes > MaxI2cBytes || at + 2 * pins + PwmRecordLength * pwms != end) return FrameStatus.BadContent;
        for (int i = 0; i < pins; i++, at += 2)
            if (source[at] >= MaxPins || source[at + 1] > 1) return FrameStatus.BadContent;
        for (int i = 0; i < pwms; i++, at += PwmRecordLength)
        {
            float f = BinaryPrimitives.ReadSingleLittleEndian(source[(at + 4)..]);
            float d = BinaryPrimitives.ReadSingleLittleEndian(source[(at + 8)..]);
            if (source[at + 2] > 1 || source[at + 3] != 0 || !float.IsFinite(f) || f < 0 || !(d >= 0 && d <= 1)) return FrameStatus.BadContent;
        }

        Sequence = sequence;
        RequestsReset = (flags & ResetFlag) != 0;
        AnswersTick = BinaryPrimitives.ReadUInt64LittleEndian(source[BodyOffset..]);
        I2cWriteCount = writes;
        PinLevelCount = pins;
        PwmCount = pwms;
        _writeBytesUsed = 0;
        at = RecordsOffset;
        for (int i = 0; i < writes; i++)
        {
            int length = source[at + 1];
            _writeAddresses[i] = source[at];
            _writeOffsets[i] = _writeBytesUsed;
            _writeLengths[i] = length;
            source.Slice(at + 2, length).CopyTo(_writeBytes.AsSpan(_writeBytesUsed));
            _writeBytesUsed += length;
            at += 2 + length;
        }
        for (int i = 0; i < pins; i++, at += 2)
        {
            _pins[i] = source[at];
            _levels[i] = source[at + 1] == 1;
        }
        for (int i = 0; i < pwms; i++, at += PwmRecordLength)
        {
            _pwm[i] = new PwmSetting(source[at], source[at + 1], source[at + 2] == 1,
                BinaryPrimitives.ReadSingleLittleEndian(source[(at + 4)..]), BinaryPrimitives.ReadSingleLittleEndian(source[(at + 8)..]));
        }
        return FrameStatus.Ok;
    }

    public FrameStatus TryDecode(in ReadOnlySequence<byte> payload, Span<byte> scratch) =>
        FrameSequences.TryGetSpan(payload, scratch, out var span, out var status) ? TryDecode(span) : status;

    private static int Check(int index, int count)
    {
        if ((uint)index >= (uint)count) throw new ArgumentOutOfRangeException(nameof(index), index, $"record {index} is outside 0–{count - 1}");
        return index;
    }
}
