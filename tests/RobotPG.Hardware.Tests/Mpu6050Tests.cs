using System.Buffers.Binary;
using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Hardware.Tests;

public sealed class Mpu6050Tests
{
    private const double G = 9.80665;

    private static Mpu6050Options FastOptions(Mpu6050AccelRange accel = Mpu6050AccelRange.PlusMinus4G,
        Mpu6050GyroRange gyro = Mpu6050GyroRange.PlusMinus500DegreesPerSecond) => new()
    {
        AccelRange = accel,
        GyroRange = gyro,
        LowPassFilter = Mpu6050LowPassFilter.Bandwidth44Hz,
        SampleRateDivider = 4,
        ResetDelay = TimeSpan.Zero,
    };

    private static (Mpu6050Emulator Chip, EmulatedI2cDevice Bus, TransferLog Log, Mpu6050 Driver) Create(Mpu6050Options options)
    {
        var chip = new Mpu6050Emulator();
        var bus = new EmulatedI2cDevice(chip);
        var log = new TransferLog(bus);
        return (chip, bus, log, new Mpu6050(log, options));
    }

    [Fact]
    public void Initialize_checks_identity_then_resets_wakes_on_pll_and_configures_in_order()
    {
        var (chip, _, log, driver) = Create(FastOptions(Mpu6050AccelRange.PlusMinus8G, Mpu6050GyroRange.PlusMinus1000DegreesPerSecond));
        driver.Initialize();

        // The very first transfer reads WHO_AM_I, before anything is written.
        Assert.Equal(0x75, log.ReadPointers[0]);
        Assert.Equal(
            "6B 80 | 6B 01 | 1A 03 | 19 04 | 1B 10 | 1C 10",
            Bytes.Hex(log.RegisterWrites));
        Assert.Equal(1, chip.ResetCount);
        Assert.False(chip.IsSleeping);
        Assert.Equal(1, chip.ClockSource);
        Assert.Equal(2, chip.AccelRangeSelect);
        Assert.Equal(2, chip.GyroRangeSelect);
        Assert.Equal(0x03, chip.RegisterImage[0x1A]);
        Assert.Equal(0x04, chip.RegisterImage[0x19]);
    }

    [Fact]
    public void Initialize_refuses_a_chip_that_is_not_an_mpu6050_without_writing_to_it()
    {
        // A PCA9685 strapped to 0x68 reads 0x00 at 0x75 (reserved there).
        var other = new Pca9685Emulator(0x68);
        var log = new TransferLog(new EmulatedI2cDevice(other));
        var driver = new Mpu6050(log, FastOptions());

        var ex = Assert.Throws<BusFaultException>(driver.Initialize);
        Assert.Contains("WHO_AM_I (0x75) reads 0x00", ex.Message);
        Assert.Contains("address 0x68", ex.Message);
        Assert.Contains("MPU-6050", ex.Message);
        Assert.Empty(log.RegisterWrites);
    }

    public static TheoryData<Mpu6050AccelRange, Mpu6050GyroRange> AllRanges()
    {
        var data = new TheoryData<Mpu6050AccelRange, Mpu6050GyroRange>();
        foreach (var a in Enum.GetValues<Mpu6050AccelRange>())
            foreach (var g in Enum.GetValues<Mpu6050GyroRange>())
                data.Add(a, g);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllRanges))]
    public void Read_decodes_every_range_to_si_units(Mpu6050AccelRange accelRange, Mpu6050GyroRange gyroRange)
    {
        var (chip, _, _, driver) = Create(FastOptions(accelRange, gyroRange));
        driver.Initialize();

        // Datasheet sensitivities (register map §4.17, §4.19), typed in here, not taken from the driver.
        double accelLsbPerG = new[] { 16384.0, 8192.0, 4096.0, 2048.0 }[(int)accelRange];
        double gyroLsbPerDps = new[] { 131.0, 65.5, 32.8, 16.4 }[(int)gyroRange];
        double fullScaleG = new[] { 2.0, 4.0, 8.0, 16.0 }[(int)accelRange];
        double fullScaleDps = new[] { 250.0, 500.0, 1000.0, 2000.0 }[(int)gyroRange];

        double ax = 0.31 * fullScaleG * G, ay = -0.77 * fullScaleG * G, az = 0.5 * fullScaleG * G;
        double gx = 0.123 * fullScaleDps * Math.PI / 180, gy = -0.9 * fullScaleDps * Math.PI / 180, gz = 0.45 * fullScaleDps * Math.PI / 180;
        chip.SetMotion(ax, ay, az, gx, gy, gz, 25.0);

        var frame = new SensorFrame(0);
        driver.Read(frame);

        // Reference: quantise to the nearest LSB, scale back. Tolerance: float32 rounding of the product (~1e-6 relative).
        static double Quantised(double value, double lsbPerUnit) => Math.Round(value * lsbPerUnit) / lsbPerUnit;
        double accelLsb = accelLsbPerG / G;
        double gyroLsb = gyroLsbPerDps * 180 / Math.PI;
        AssertClose(Quantised(ax, accelLsb), frame.AccelX);
        AssertClose(Quantised(ay, accelLsb), frame.AccelY);
        AssertClose(Quantised(az, accelLsb), frame.AccelZ);
        AssertClose(Quantised(gx, gyroLsb), frame.GyroX);
        AssertClose(Quantised(gy, gyroLsb), frame.GyroY);
        AssertClose(Quantised(gz, gyroLsb), frame.GyroZ);
        // Quantisation error is at most half an LSB.
        Assert.InRange(Math.Abs(frame.AccelX - ax), 0, 0.5 / accelLsb + 1e-5);
        Assert.InRange(Math.Abs(frame.GyroY - gy), 0, 0.5 / gyroLsb + 1e-5);
        // Temperature: raw = round((25 − 36.53) · 340) = −3920 → −3920/340 + 36.53 (register map §4.18).
        AssertClose(-3920 / 340.0 + 36.53, frame.TemperatureC);

        static void AssertClose(double expected, float actual) =>
            Assert.InRange(actual, expected - 1e-5 * Math.Max(1, Math.Abs(expected)), expected + 1e-5 * Math.Max(1, Math.Abs(expected)));
    }

    [Fact]
    public void Upright_at_rest_reads_one_g_on_z_from_raw_16384()
    {
        var (chip, _, _, driver) = Create(FastOptions(Mpu6050AccelRange.PlusMinus2G));
        driver.Initialize();
        chip.SetMotion(0, 0, G, 0, 0, 0, 36.53);

        Assert.Equal(16384, BinaryPrimitives.ReadInt16BigEndian(chip.RegisterImage[0x3F..]));
        var frame = new SensorFrame(0);
        driver.Read(frame);
        Assert.Equal((float)G, frame.AccelZ, 5);
        Assert.Equal(0f, frame.AccelX);
        Assert.Equal(36.53f, frame.TemperatureC, 4);
    }

    [Fact]
    public void Saturated_axes_read_the_end_of_the_range()
    {
        var (chip, _, _, driver) = Create(FastOptions(Mpu6050AccelRange.PlusMinus2G, Mpu6050GyroRange.PlusMinus250DegreesPerSecond));
        driver.Initialize();
        chip.SetMotion(5 * G, -5 * G, 0, 10, -10, 0, 20);

        var frame = new SensorFrame(0);
        driver.Read(frame);
        Assert.Equal(32767 / 16384.0 * G, frame.AccelX, 4);
        Assert.Equal(-32768 / 16384.0 * G, frame.AccelY, 4);
        Assert.Equal(32767 / 131.0 * Math.PI / 180, frame.GyroX, 5);
        Assert.Equal(-32768 / 131.0 * Math.PI / 180, frame.GyroY, 5);
    }

    [Fact]
    public void Span_read_matches_frame_read()
    {
        var (chip, _, _, driver) = Create(FastOptions());
        driver.Initialize();
        chip.SetMotion(1.5, -2.5, 9.0, 0.3, -0.2, 0.1, 30);
        var frame = new SensorFrame(0);
        driver.Read(frame);
        Span<float> accel = stackalloc float[3], gyro = stackalloc float[3];
        float temperature = driver.Read(accel, gyro);
        Assert.Equal([frame.AccelX, frame.AccelY, frame.AccelZ], accel.ToArray());
        Assert.Equal([frame.GyroX, frame.GyroY, frame.GyroZ], gyro.ToArray());
        Assert.Equal(frame.TemperatureC, temperature);
    }

    [Fact]
    public void Gyro_calibration_removes_the_bias_of_a_still_robot()
    {
        var (chip, _, _, driver) = Create(FastOptions() with { GyroCalibrationSamples = 400 });
        driver.Initialize();
        chip.Imperfections = new Mpu6050Imperfections(0.01, 0.003, 0, 0, 0, 0.021, -0.013, 0.034, 0);
        chip.SetMotion(0, 0, G, 0, 0, 0, 25);
        driver.CalibrateGyroBias(() => chip.SetMotion(0, 0, G, 0, 0, 0, 25));

        // Mean of 400 samples with σ = 0.003 rad/s: standard error 1.5e-4, plus half an LSB at ±500 °/s
        // (1.33e-4 rad/s) of quantisation bias at most; 1e-3 is over 3 standard errors + quantisation.
        var (bx, by, bz) = driver.GyroBias;
        Assert.InRange(bx, 0.021 - 1e-3, 0.021 + 1e-3);
        Assert.InRange(by, -0.013 - 1e-3, -0.013 + 1e-3);
        Assert.InRange(bz, 0.034 - 1e-3, 0.034 + 1e-3);

        // A true rotation reads through with the bias gone.
        chip.Imperfections = chip.Imperfections with { GyroNoiseStd = 0 };
        chip.SetMotion(0, 0, G, 0.5, 0, 0, 25);
        var frame = new SensorFrame(0);
        driver.Read(frame);
        Assert.InRange(frame.GyroX, 0.5 - 2e-3, 0.5 + 2e-3);
        Assert.InRange(frame.GyroZ, -2e-3, 2e-3);
    }

    [Fact]
    public void Gyro_calibration_refuses_a_moving_robot()
    {
        var (chip, _, _, driver) = Create(FastOptions() with { GyroCalibrationSamples = 50 });
        driver.Initialize();
        int k = 0;
        chip.SetMotion(0, 0, G, 0, 0, 0, 25);
        var ex = Assert.Throws<InvalidOperationException>(() =>
            driver.CalibrateGyroBias(() => chip.SetMotion(0, 0, G, 0.02 * ++k, 0, 0, 25)));
        Assert.Contains("moved", ex.Message);
        Assert.Equal((0f, 0f, 0f), driver.GyroBias);
    }

    [Fact]
    public void Injected_bus_fault_surfaces_as_one_clear_exception_and_the_next_read_works()
    {
        var (chip, bus, _, driver) = Create(FastOptions());
        driver.Initialize();
        chip.SetMotion(0, 0, G, 0, 0, 0, 25);
        var frame = new SensorFrame(0);

        bus.FailNextTransfers(1);
        var ex = Assert.Throws<BusFaultException>(() => driver.Read(frame));
        Assert.Equal("MPU-6050", ex.Device);
        Assert.Equal(0x68, ex.Address);
        Assert.Equal(1, ex.BusId);
        Assert.Contains("burst read of 14 bytes from ACCEL_XOUT_H (0x3B)", ex.Message);
        Assert.IsType<IOException>(ex.InnerException);

        driver.Read(frame);
        Assert.Equal((float)G, frame.AccelZ, 3);
    }

    [Fact]
    public void Injected_fault_during_initialize_names_the_step()
    {
        var (_, bus, _, driver) = Create(FastOptions());
        bus.Disconnected = true;
        var ex = Assert.Throws<BusFaultException>(driver.Initialize);
        Assert.Contains("WHO_AM_I", ex.Message);
    }

    [Fact]
    public void Read_allocates_nothing_after_warm_up()
    {
        var (chip, _, log, driver) = Create(FastOptions());
        driver.Initialize();
        log.Recording = false;
        chip.SetMotion(0.1, 0.2, G, 0.01, 0.02, 0.03, 25);
        var frame = new SensorFrame(0);
        Span<float> accel = stackalloc float[3], gyro = stackalloc float[3];
        for (int i = 0; i < 100; i++) { driver.Read(frame); driver.Read(accel, gyro); }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) { driver.Read(frame); driver.Read(accel, gyro); }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
