using RobotPG.Messaging;
using RobotPG.Numerics;
using Xunit;

namespace RobotPG.Messaging.Tests;

public class FrameFuzzTests
{
    /// <summary>
    /// 100,000 frames: random bytes, valid frames with flipped bits, truncated, extended, and valid
    /// frames with a consistent length/CRC but random body bytes. No exception may escape, every
    /// frame is counted exactly once, and the mutated ones never decode as Ok unless they are intact.
    /// </summary>
    [Fact]
    public void HundredThousandRandomAndMutatedFramesAreAllCountedAndNeverThrow()
    {
        var rng = new Prng(2026);
        var sensorTemplate = new SimSensorFrame { Sequence = 5, SimTime = 0.5 };
        sensorTemplate.SetShape(2, 2);
        sensorTemplate.SetDevice(0, 0x68, new byte[128]);
        sensorTemplate.SetDevice(1, 0x40, new byte[256]);
        var actuatorTemplate = new SimActuatorFrame { AnswersTick = 5 };
        actuatorTemplate.TryAddI2cWrite(0x40, [0x06, 0, 0, 0, 8]);
        actuatorTemplate.TrySetPinLevel(5, true);
        actuatorTemplate.TrySetPwm(new PwmSetting(0, 0, true, 1000, 0.5f));
        var validSensor = new byte[SimSensorFrame.MaxEncodedLength];
        int sensorLength = sensorTemplate.Encode(validSensor);
        var validActuator = new byte[SimActuatorFrame.MaxEncodedLength];
        int actuatorLength = actuatorTemplate.Encode(validActuator);

        var sensorCounters = new FrameCounters();
        var actuatorCounters = new FrameCounters();
        var sensor = new SimSensorFrame();
        var actuator = new SimActuatorFrame();
        var buffer = new byte[FrameFormat.MaxFrameLength + 64];
        const int total = 100_000;
        int intact = 0;
        for (int i = 0; i < total; i++)
        {
            bool isSensor = (i & 1) == 0;
            byte[] valid = isSensor ? validSensor : validActuator;
            int validLength = isSensor ? sensorLength : actuatorLength;
            int length;
            switch (rng.NextInt(5))
            {
                case 0: // pure noise of random length
                    length = rng.NextInt(buffer.Length);
                    for (int k = 0; k < length; k++) buffer[k] = (byte)rng.NextUInt64();
                    break;
                case 1: // bit flips
                    length = validLength;
                    valid.AsSpan(0, length).CopyTo(buffer);
                    int flips = 1 + rng.NextInt(4);
                    for (int f = 0; f < flips; f++) buffer[rng.NextInt(length)] ^= (byte)(1 << rng.NextInt(8));
                    break;
                case 2: // truncated or extended
                    length = Math.Max(0, validLength + rng.NextInt(64) - 32);
                    valid.AsSpan(0, Math.Min(length, validLength)).CopyTo(buffer);
                    break;
                case 3: // re-sealed: random body with a correct length and CRC (only structure checks can catch it)
                    length = validLength;
                    valid.AsSpan(0, length).CopyTo(buffer);
                    int n = 1 + rng.NextInt(8);
                    for (int f = 0; f < n; f++) buffer[16 + rng.NextInt(length - 20)] = (byte)rng.NextUInt64();
                    Reseal(buffer.AsSpan(0, length));
                    break;
                default: // intact
                    length = validLength;
                    valid.AsSpan(0, length).CopyTo(buffer);
                    intact++;
                    break;
            }
            var span = buffer.AsSpan(0, length);
            if (isSensor) sensorCounters.Record(sensor.TryDecode(span));
            else actuatorCounters.Record(actuator.TryDecode(span));
        }
        Assert.Equal(total, sensorCounters.Total + actuatorCounters.Total);
        Assert.True(sensorCounters.Dropped + actuatorCounters.Dropped > total / 2, "most mutated frames must be refused");
        Assert.True(sensorCounters.Accepted + actuatorCounters.Accepted >= intact, "every intact frame decodes");
        Assert.True(sensorCounters[FrameStatus.BadChecksum] > 0 && sensorCounters[FrameStatus.BadContent] + actuatorCounters[FrameStatus.BadContent] > 0);
    }

    private static void Reseal(Span<byte> frame) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(frame[^4..], System.IO.Hashing.Crc32.HashToUInt32(frame[..^4]));
}
