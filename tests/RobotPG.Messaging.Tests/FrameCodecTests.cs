using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using RobotPG.Messaging;
using Xunit;

namespace RobotPG.Messaging.Tests;

public class FrameCodecTests
{
    private static SimSensorFrame SampleSensor()
    {
        var frame = new SimSensorFrame { Sequence = 0x0102030405060708, SimTime = 1.25, AppliedActuatorSequence = 0x1122334455667788, PinLevels = (1UL << 5) | (1UL << 63) };
        frame.SetShape(2, 2);
        var imu = new byte[128];
        for (int i = 0; i < imu.Length; i++) imu[i] = (byte)i;
        frame.SetDevice(0, 0x68, imu);
        frame.SetDevice(1, 0x40, new byte[] { 0xAA, 0xBB });
        frame.EncoderCounts[0] = -5;
        frame.EncoderCounts[1] = 1320;
        return frame;
    }

    [Fact]
    public void SensorFrameLayoutIsAsDocumented()
    {
        var frame = SampleSensor();
        var bytes = new byte[SimSensorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        // 16 header + 28 body + (4 + 128) + (4 + 2) + 2·8 encoders + 4 CRC (README.md, "Sensor frame").
        Assert.Equal(16 + 28 + 132 + 6 + 16 + 4, length);
        var b = bytes.AsSpan(0, length);
        Assert.Equal((byte)'R', b[0]);
        Assert.Equal((byte)'S', b[1]);
        Assert.Equal(1, b[2]);
        Assert.Equal(0, b[3]);
        Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(b[4..]));
        Assert.Equal(0x0102030405060708UL, BinaryPrimitives.ReadUInt64LittleEndian(b[8..]));
        Assert.Equal(1.25, BinaryPrimitives.ReadDoubleLittleEndian(b[16..]));
        Assert.Equal(2, b[24]);
        Assert.Equal(2, b[25]);
        Assert.Equal(0x1122334455667788UL, BinaryPrimitives.ReadUInt64LittleEndian(b[28..]));
        Assert.Equal((1UL << 5) | (1UL << 63), BinaryPrimitives.ReadUInt64LittleEndian(b[36..]));
        Assert.Equal(0x68, b[44]);
        Assert.Equal(128, BinaryPrimitives.ReadUInt16LittleEndian(b[46..]));
        Assert.Equal(0x3B, b[48 + 0x3B]);
        Assert.Equal(0x40, b[176]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(b[178..]));
        Assert.Equal(0xAA, b[180]);
        Assert.Equal(-5L, BinaryPrimitives.ReadInt64LittleEndian(b[182..]));
        Assert.Equal(1320L, BinaryPrimitives.ReadInt64LittleEndian(b[190..]));
        Assert.Equal(Crc32.HashToUInt32(b[..^4]), BinaryPrimitives.ReadUInt32LittleEndian(b[^4..]));
    }

    [Fact]
    public void SensorFrameRoundTrips()
    {
        var frame = SampleSensor();
        var bytes = new byte[SimSensorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        var back = new SimSensorFrame();
        Assert.Equal(FrameStatus.Ok, back.TryDecode(bytes.AsSpan(0, length)));
        Assert.Equal(frame.Sequence, back.Sequence);
        Assert.Equal(frame.SimTime, back.SimTime);
        Assert.Equal(0x1122334455667788UL, back.AppliedActuatorSequence);
        Assert.True(back.PinHigh(5) && back.PinHigh(63) && !back.PinHigh(6));
        Assert.Equal(2, back.DeviceCount);
        Assert.True(back.ImageOf(0x68).SequenceEqual(frame.ImageOf(0x68)));
        Assert.True(back.ImageOf(0x40).SequenceEqual(new byte[] { 0xAA, 0xBB }));
        Assert.True(back.ImageOf(0x41).IsEmpty);
        Assert.Equal(new long[] { -5, 1320 }, back.EncoderCounts.ToArray());
    }

    [Fact]
    public void MultiSegmentPayloadsDecodeThroughTheScratchBuffer()
    {
        var frame = SampleSensor();
        var bytes = new byte[SimSensorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        var first = new Segment(bytes.AsMemory(0, 50));
        var last = first.Append(bytes.AsMemory(50, length - 50));
        var sequence = new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        Assert.False(sequence.IsSingleSegment);
        var back = new SimSensorFrame();
        Assert.Equal(FrameStatus.Ok, back.TryDecode(sequence, new byte[FrameFormat.MaxFrameLength]));
        Assert.Equal(frame.Sequence, back.Sequence);
        Assert.Equal(FrameStatus.Oversized, back.TryDecode(sequence, new byte[10]));
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }

    [Fact]
    public void ActuatorFrameLayoutIsAsDocumentedAndRoundTrips()
    {
        var frame = new SimActuatorFrame { Sequence = 9, AnswersTick = 41 };
        Assert.True(frame.TryAddI2cWrite(0x40, [0x06, 0, 0, 0x00, 0x08]));
        Assert.True(frame.TryAddI2cWrite(0x68, [0x6B, 0x01]));
        Assert.True(frame.TrySetPinLevel(5, true));
        Assert.True(frame.TrySetPinLevel(6, false));
        Assert.True(frame.TrySetPinLevel(5, false)); // replaces
        Assert.True(frame.TrySetPwm(new PwmSetting(0, 1, true, 20000f, 0.25f)));
        var bytes = new byte[SimActuatorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        // 16 header + 12 body + (2 + 5) + (2 + 2) writes + 2·2 pins + 12 PWM + 4 CRC.
        Assert.Equal(16 + 12 + 7 + 4 + 4 + 12 + 4, length);
        var b = bytes.AsSpan(0, length);
        Assert.Equal((byte)'R', b[0]);
        Assert.Equal((byte)'A', b[1]);
        Assert.Equal(41UL, BinaryPrimitives.ReadUInt64LittleEndian(b[16..]));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(b[24..]));
        Assert.Equal(2, b[26]);
        Assert.Equal(1, b[27]);
        Assert.Equal(new byte[] { 0x40, 5, 0x06, 0, 0, 0x00, 0x08, 0x68, 2, 0x6B, 0x01, 5, 0, 6, 0, 0, 1, 1, 0 }, b[28..47].ToArray());
        Assert.Equal(20000f, BinaryPrimitives.ReadSingleLittleEndian(b[47..]));
        Assert.Equal(0.25f, BinaryPrimitives.ReadSingleLittleEndian(b[51..]));

        var back = new SimActuatorFrame();
        Assert.Equal(FrameStatus.Ok, back.TryDecode(b));
        Assert.Equal(9UL, back.Sequence);
        Assert.Equal(41UL, back.AnswersTick);
        Assert.Equal(2, back.I2cWriteCount);
        Assert.Equal(0x68, back.I2cWriteAddress(1));
        Assert.True(back.I2cWriteData(0).SequenceEqual(new byte[] { 0x06, 0, 0, 0x00, 0x08 }));
        Assert.Equal((5, false), (back.PinNumber(0), back.PinHigh(0)));
        Assert.Equal(new PwmSetting(0, 1, true, 20000f, 0.25f), back.Pwm(0));
    }

    [Fact]
    public void A_reset_request_is_flag_bit_0_of_the_actuator_header_and_no_other_flag_is_accepted()
    {
        var frame = new SimActuatorFrame { Sequence = 9, AnswersTick = 41, RequestsReset = true };
        Assert.True(frame.TrySetPinLevel(5, false));
        var bytes = new byte[SimActuatorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        Assert.Equal(0x01, bytes[3]);
        var back = new SimActuatorFrame();
        Assert.Equal(FrameStatus.Ok, back.TryDecode(bytes.AsSpan(0, length)));
        Assert.True(back.RequestsReset);
        Assert.Equal((5, false), (back.PinNumber(0), back.PinHigh(0)));

        // The frame object is reused: the next frame without the flag decodes as no request, and Clear drops it.
        frame.Clear();
        Assert.False(frame.RequestsReset);
        length = frame.Encode(bytes);
        Assert.Equal(0, bytes[3]);
        Assert.Equal(FrameStatus.Ok, back.TryDecode(bytes.AsSpan(0, length)));
        Assert.False(back.RequestsReset);

        // Any other bit, correctly checksummed, is refused (a newer controller's request this sim cannot honour).
        bytes[3] = 0x03;
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(length - 4), Crc32.HashToUInt32(bytes.AsSpan(0, length - 4)));
        Assert.Equal(FrameStatus.BadFlags, back.TryDecode(bytes.AsSpan(0, length)));
        // Sensor frames define no flag at all.
        var sensor = new byte[SimSensorFrame.MaxEncodedLength];
        int sensorLength = SampleSensor().Encode(sensor);
        sensor[3] = 0x01;
        BinaryPrimitives.WriteUInt32LittleEndian(sensor.AsSpan(sensorLength - 4), Crc32.HashToUInt32(sensor.AsSpan(0, sensorLength - 4)));
        Assert.Equal(FrameStatus.BadFlags, new SimSensorFrame().TryDecode(sensor.AsSpan(0, sensorLength)));
    }

    [Fact]
    public void FullFramesRefuseMoreRecords()
    {
        var frame = new SimActuatorFrame();
        for (int i = 0; i < SimActuatorFrame.MaxI2cWrites; i++) Assert.True(frame.TryAddI2cWrite(0x40, [0x06, 1]));
        Assert.False(frame.TryAddI2cWrite(0x40, [0x06, 1]));
        var bytes = new byte[SimActuatorFrame.MaxEncodedLength];
        Assert.Equal(FrameStatus.Ok, new SimActuatorFrame().TryDecode(bytes.AsSpan(0, frame.Encode(bytes))));
    }

    [Fact]
    public void TruthFrameRoundTrips()
    {
        var truth = new GroundTruthFrame { Sequence = 3, SimTime = 0.015, Fallen = true };
        truth.SetValueCount(3);
        truth.Values[0] = 0.1;
        truth.Values[1] = -2;
        truth.Values[2] = double.Pi;
        var bytes = new byte[GroundTruthFrame.MaxEncodedLength];
        int length = truth.Encode(bytes);
        Assert.Equal(16 + 12 + 24 + 4, length);
        var back = new GroundTruthFrame();
        Assert.Equal(FrameStatus.Ok, back.TryDecode(bytes.AsSpan(0, length)));
        Assert.True(back.Fallen);
        Assert.Equal(new[] { 0.1, -2, double.Pi }, back.Values.ToArray());
    }

    [Fact]
    public void EnvelopeErrorsAreNamed()
    {
        var frame = SampleSensor();
        var bytes = new byte[SimSensorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        var target = new SimSensorFrame();
        Assert.Equal(FrameStatus.TooShort, target.TryDecode(bytes.AsSpan(0, 10)));
        Assert.Equal(FrameStatus.Oversized, target.TryDecode(new byte[FrameFormat.MaxFrameLength + 1]));
        Assert.Equal(FrameStatus.BadMagic, new SimActuatorFrame().TryDecode(bytes.AsSpan(0, length)));
        Assert.Equal(FrameStatus.LengthMismatch, target.TryDecode(bytes.AsSpan(0, length - 1)));
        var copy = bytes.AsSpan(0, length).ToArray();
        copy[2] = 2;
        Assert.Equal(FrameStatus.UnsupportedVersion, target.TryDecode(copy));
        copy = bytes.AsSpan(0, length).ToArray();
        copy[100] ^= 0x10;
        Assert.Equal(FrameStatus.BadChecksum, target.TryDecode(copy));
        Assert.Equal(0, target.DeviceCount); // untouched by every failure
    }

    [Fact]
    public void CorrectChecksumButInconsistentContentIsBadContent()
    {
        var frame = SampleSensor();
        var bytes = new byte[SimSensorFrame.MaxEncodedLength];
        int length = frame.Encode(bytes);
        var b = bytes.AsSpan(0, length);
        BinaryPrimitives.WriteUInt16LittleEndian(b[46..], 300); // image longer than the frame
        BinaryPrimitives.WriteUInt32LittleEndian(b[^4..], Crc32.HashToUInt32(b[..^4]));
        Assert.Equal(FrameStatus.BadContent, new SimSensorFrame().TryDecode(b));
    }

    [Fact]
    public void EncodeAndDecodeAllocateNothing()
    {
        var sensor = SampleSensor();
        var sensorBack = new SimSensorFrame();
        var actuator = new SimActuatorFrame();
        var actuatorBack = new SimActuatorFrame();
        var bytes = new byte[FrameFormat.MaxFrameLength];
        byte[] write = [0x06, 0, 0, 0, 8];
        void Cycle()
        {
            int n = sensor.Encode(bytes);
            sensorBack.TryDecode(bytes.AsSpan(0, n));
            actuator.Clear();
            actuator.TryAddI2cWrite(0x40, write);
            actuator.TrySetPinLevel(5, true);
            actuator.TrySetPwm(new PwmSetting(0, 0, true, 1000, 0.5f));
            n = actuator.Encode(bytes);
            actuatorBack.TryDecode(bytes.AsSpan(0, n));
            actuatorBack.TryDecode(new ReadOnlySequence<byte>(bytes, 0, n), bytes);
        }
        Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) Cycle();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
