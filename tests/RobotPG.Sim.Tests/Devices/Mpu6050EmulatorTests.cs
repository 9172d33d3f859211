using System.Buffers.Binary;
using MathNet.Numerics.Statistics;
using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Sim.Tests.Devices;

public class Mpu6050EmulatorTests
{
    private const double G = 9.80665;

    private static Mpu6050Emulator Awake(int address = 0x68)
    {
        var mpu = new Mpu6050Emulator(address);
        mpu.Write([0x6B, 0x01]); // wake, PLL with gyro X (what every driver writes)
        return mpu;
    }

    private static byte ReadRegister(IRegisterDevice device, byte register)
    {
        device.Write([register]);
        Span<byte> one = stackalloc byte[1];
        device.Read(one);
        return one[0];
    }

    private static byte[] Burst(IRegisterDevice device)
    {
        var bytes = new byte[14];
        device.Write([0x3B]);
        device.Read(bytes);
        return bytes;
    }

    private static short Word(byte[] burst, int index) => BinaryPrimitives.ReadInt16BigEndian(burst.AsSpan(2 * index));

    [Theory]
    [InlineData(0x68)]
    [InlineData(0x69)]
    public void WhoAmIReads0x68AtEitherAddress(int address)
    {
        var mpu = new Mpu6050Emulator(address);
        Assert.Equal(address, mpu.Address);
        Assert.Equal(0x68, ReadRegister(mpu, 0x75));
    }

    [Fact]
    public void OtherAddressesAreRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Mpu6050Emulator(0x6A));

    [Fact]
    public void PowersUpAsleepWithZeroData()
    {
        var mpu = new Mpu6050Emulator();
        Assert.Equal(0x40, ReadRegister(mpu, 0x6B));
        mpu.SetMotion(1, 2, 3, 0.1, 0.2, 0.3, 40);
        Assert.All(Burst(mpu), b => Assert.Equal(0, b));
    }

    [Fact]
    public void UprightAtRestIsOneGOnZAt16384Lsb()
    {
        var mpu = Awake();
        mpu.SetMotion(0, 0, G, 0, 0, 0, 36.53);
        // 16384 = 0x4000 on Z; temperature 36.53 °C is raw 0; no rotation.
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0x40, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 }, Burst(mpu));
    }

    [Theory]
    [InlineData(0x00, 16384)]
    [InlineData(0x08, 8192)]
    [InlineData(0x10, 4096)]
    [InlineData(0x18, 2048)]
    public void AccelScaleFollowsFsSel(byte accelConfig, int lsbPerG)
    {
        var mpu = Awake();
        mpu.Write([0x1C, accelConfig]);
        mpu.SetMotion(0.5 * G, -0.25 * G, G, 0, 0, 0, 36.53);
        var burst = Burst(mpu);
        Assert.Equal(lsbPerG / 2, Word(burst, 0));
        Assert.Equal(-lsbPerG / 4, Word(burst, 1));
        Assert.Equal(lsbPerG, Word(burst, 2));
    }

    [Theory]
    // 1 rad/s = 57.29578 °/s; × LSB per °/s, rounded to the nearest LSB.
    [InlineData(0x00, 7506)]   // 131    → 7505.75
    [InlineData(0x08, 3753)]   // 65.5   → 3752.87
    [InlineData(0x10, 1879)]   // 32.8   → 1879.30
    [InlineData(0x18, 940)]    // 16.4   → 939.65
    public void GyroScaleFollowsFsSel(byte gyroConfig, int expectedLsb)
    {
        var mpu = Awake();
        mpu.Write([0x1B, gyroConfig]);
        mpu.SetMotion(0, 0, G, 1.0, -1.0, 0.0, 36.53);
        var burst = Burst(mpu);
        Assert.Equal(expectedLsb, Word(burst, 4));
        Assert.Equal(-expectedLsb, Word(burst, 5));
        Assert.Equal(0, Word(burst, 6));
    }

    [Fact]
    public void SaturatesAtTheRange()
    {
        var mpu = Awake();
        mpu.SetMotion(3 * G, -3 * G, 0, 10, -10, 0, 36.53); // 10 rad/s = 573 °/s > 250 °/s
        var burst = Burst(mpu);
        Assert.Equal(short.MaxValue, Word(burst, 0));
        Assert.Equal(short.MinValue, Word(burst, 1));
        Assert.Equal(short.MaxValue, Word(burst, 4));
        Assert.Equal(short.MinValue, Word(burst, 5));
    }

    [Theory]
    [InlineData(25.0, -3920)]  // (25 − 36.53)·340 = −3920.2
    [InlineData(60.0, 7980)]   // (60 − 36.53)·340 = 7979.8
    public void TemperatureIsRawOver340Plus3653(double celsius, int raw)
    {
        var mpu = Awake();
        mpu.SetMotion(0, 0, G, 0, 0, 0, celsius);
        var burst = Burst(mpu);
        Assert.Equal(raw, Word(burst, 3));
        Assert.Equal(celsius, Word(burst, 3) / 340.0 + 36.53, 2);
    }

    [Fact]
    public void DeviceResetRestoresResetValuesAndSleeps()
    {
        var mpu = Awake();
        mpu.Write([0x1B, 0x18]);
        mpu.Write([0x1C, 0x10]);
        mpu.SetMotion(1, 2, 3, 0.1, 0.2, 0.3, 30);
        mpu.Write([0x6B, 0x80]);
        Assert.Equal(0x40, ReadRegister(mpu, 0x6B));
        Assert.Equal(0x00, ReadRegister(mpu, 0x1B));
        Assert.Equal(0x00, ReadRegister(mpu, 0x1C));
        Assert.Equal(0x68, ReadRegister(mpu, 0x75));
        Assert.All(Burst(mpu), b => Assert.Equal(0, b));
        Assert.Equal(1, mpu.ResetCount);
    }

    [Fact]
    public void SleepFreezesTheDataRegisters()
    {
        var mpu = Awake();
        mpu.SetMotion(0, 0, G, 0, 0, 0, 36.53);
        var before = Burst(mpu);
        mpu.Write([0x6B, 0x41]); // SLEEP with CLKSEL 1
        Assert.True(mpu.IsSleeping);
        mpu.SetMotion(G, G, 0, 1, 1, 1, 50);
        Assert.Equal(before, Burst(mpu));
        mpu.Write([0x6B, 0x01]);
        mpu.SetMotion(G, 0, 0, 0, 0, 0, 36.53);
        Assert.Equal(16384, Word(Burst(mpu), 0));
    }

    [Fact]
    public void ClockSelectIsStored()
    {
        var mpu = Awake();
        Assert.Equal(1, mpu.ClockSource);
        mpu.Write([0x6B, 0x03]);
        Assert.Equal(3, mpu.ClockSource);
        Assert.False(mpu.IsSleeping);
    }

    [Fact]
    public void DataRegistersAndWhoAmIAreReadOnly()
    {
        var mpu = Awake();
        mpu.Write([0x3B, 0x12, 0x34]);
        mpu.Write([0x75, 0x00]);
        Assert.All(Burst(mpu), b => Assert.Equal(0, b));
        Assert.Equal(0x68, ReadRegister(mpu, 0x75));
    }

    [Fact]
    public void WritesAndReadsAutoIncrementFromThePointer()
    {
        var mpu = Awake();
        mpu.Write([0x19, 0x07, 0x03, 0x08, 0x10]); // SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG in one burst
        var back = new byte[4];
        mpu.Write([0x19]);
        mpu.Read(back);
        Assert.Equal(new byte[] { 0x07, 0x03, 0x08, 0x10 }, back);
        Assert.Equal(1, mpu.GyroRangeSelect);
        Assert.Equal(2, mpu.AccelRangeSelect);
        Assert.Equal(0x1D, mpu.RegisterPointer);
    }

    [Fact]
    public void NoiseAndBiasHaveTheConfiguredStatistics()
    {
        var mpu = Awake();
        mpu.Write([0x1C, 0x18]); // ±16 g: 2048 LSB/g → quantum 4.8 mm/s², well below the noise
        mpu.Imperfections = Mpu6050Imperfections.None with { AccelNoiseStd = 0.2, AccelBiasX = 0.5, GyroNoiseStd = 0.01, GyroBiasZ = -0.02 };
        const int n = 20_000;
        var ax = new double[n];
        var gz = new double[n];
        for (int i = 0; i < n; i++)
        {
            mpu.SetMotion(0, 0, G, 0, 0, 0, 36.53);
            var burst = Burst(mpu);
            ax[i] = Word(burst, 0) / 2048.0 * G;
            gz[i] = Word(burst, 6) / 131.0 * Math.PI / 180.0;
        }
        // Standard error of the mean is σ/√n ≈ 0.0014; of the std ≈ σ/√(2n) = 0.5 %. Bounds are ~5 standard errors.
        Assert.Equal(0.5, ax.Mean(), 0.01);
        Assert.InRange(ax.StandardDeviation(), 0.2 * 0.97, 0.2 * 1.03);
        Assert.Equal(-0.02, gz.Mean(), 0.001);
        Assert.InRange(gz.StandardDeviation(), 0.01 * 0.95, 0.01 * 1.05);
    }

    [Fact]
    public void SameSeedGivesTheSameNoise()
    {
        var a = new Mpu6050Emulator(0x68, noiseSeed: 7);
        var b = new Mpu6050Emulator(0x68, noiseSeed: 7);
        var c = new Mpu6050Emulator(0x68, noiseSeed: 8);
        foreach (var mpu in new[] { a, b, c })
        {
            mpu.Write([0x6B, 0x01]);
            mpu.Imperfections = Mpu6050Imperfections.None with { AccelNoiseStd = 0.3 };
            mpu.SetMotion(0, 0, G, 0, 0, 0, 36.53);
        }
        Assert.Equal(Burst(a), Burst(b));
        Assert.NotEqual(Burst(a), Burst(c));
    }
}
