using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Hardware.Tests;

public sealed class Pca9685Tests
{
    private static (Pca9685Emulator Chip, EmulatedI2cDevice Bus, TransferLog Log, Pca9685 Driver) Create(double frequencyHz = 1000)
    {
        var chip = new Pca9685Emulator();
        var bus = new EmulatedI2cDevice(chip);
        var log = new TransferLog(bus);
        var driver = new Pca9685(log, new Pca9685Options { FrequencyHz = frequencyHz, OscillatorStartup = TimeSpan.Zero });
        return (chip, bus, log, driver);
    }

    [Theory]
    // Datasheet §7.3.5 Equation 1: round(25 MHz / (4096 · f)) − 1; its own example is 200 Hz → 30 (0x1E).
    [InlineData(50.0, 121)]
    [InlineData(200.0, 30)]
    [InlineData(1000.0, 5)]
    [InlineData(1526.0, 3)]
    [InlineData(24.0, 253)]
    public void Prescale_follows_equation_1(double frequencyHz, int expected)
    {
        Assert.Equal(expected, Pca9685.ComputePrescale(frequencyHz));
        Assert.Equal(expected, (int)Math.Round(25e6 / (4096 * frequencyHz)) - 1);
    }

    [Theory]
    [InlineData(10.0)]
    [InlineData(2000.0)]
    [InlineData(0.0)]
    [InlineData(double.NaN)]
    public void Frequencies_the_chip_cannot_make_are_refused(double frequencyHz)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Pca9685.ComputePrescale(frequencyHz));
        Assert.Equal("frequencyHz", ex.ParamName);
    }

    [Theory]
    [InlineData(50.0, 121)]
    [InlineData(1000.0, 5)]
    public void Initialize_runs_all_off_then_sleep_prescale_wake_restart(double frequencyHz, byte prescale)
    {
        var (chip, _, log, driver) = Create(frequencyHz);
        driver.Initialize();

        Assert.Equal(
            $"00 30 | FA 00 00 00 10 | 01 04 | 00 30 | FE {prescale:X2} | 00 20 | 00 A0",
            Bytes.Hex(log.RegisterWrites));
        Assert.False(chip.IsSleeping);
        Assert.Equal(prescale, chip.RegisterImage[0xFE]);
        Assert.Equal(0x20, chip.RegisterImage[0x00]); // AI set, awake, RESTART cleared by writing it
        Assert.Equal(25e6 / (4096.0 * (prescale + 1)), chip.FrequencyHz, 9);
        Assert.Equal(chip.FrequencyHz, driver.FrequencyHz, 9);
        for (int ch = 0; ch < 16; ch++) Assert.Equal(0.0, chip.DutyCycle(ch));
    }

    [Theory]
    [InlineData(0.0, 0, true, false)]
    [InlineData(1.0, 4096, false, true)]
    [InlineData(0.5, 2048, false, false)]
    [InlineData(0.25, 1024, false, false)]
    [InlineData(0.3, 1229, false, false)]        // round(1228.8)
    [InlineData(1.0 / 4096, 1, false, false)]
    [InlineData(4095.0 / 4096, 4095, false, false)]
    [InlineData(0.99995, 4096, false, true)]     // rounds to a whole period: full on
    [InlineData(0.00005, 0, true, false)]        // rounds to nothing: full off
    [InlineData(-0.5, 0, true, false)]           // clamped
    [InlineData(1.7, 4096, false, true)]         // clamped
    public void Duty_is_encoded_in_the_led_registers(double duty, int expectedCounts, bool fullOff, bool fullOn)
    {
        var (chip, _, _, driver) = Create();
        driver.Initialize();
        foreach (int channel in new[] { 0, 7, 15 })
        {
            driver.SetDutyCycle(channel, 0.123); // a different setting first, so the write is not skipped
            driver.SetDutyCycle(channel, duty);
            Assert.Equal(fullOff, chip.IsFullOff(channel));
            Assert.Equal(fullOn, chip.IsFullOn(channel));
            Assert.Equal(expectedCounts / 4096.0, chip.DutyCycle(channel), 12);
            if (!fullOn && !fullOff)
            {
                Assert.Equal(0, chip.OnCount(channel));
                Assert.Equal(expectedCounts, chip.OffCount(channel));
            }
            Assert.Equal(expectedCounts / 4096.0, driver.GetDutyCycle(channel), 12);
        }
    }

    [Fact]
    public void Nan_duty_turns_the_channel_off()
    {
        var (chip, _, _, driver) = Create();
        driver.Initialize();
        driver.SetDutyCycle(4, 0.6);
        driver.SetDutyCycle(4, double.NaN);
        Assert.True(chip.IsFullOff(4));
    }

    [Fact]
    public void Changing_frequency_while_running_keeps_every_duty()
    {
        var (chip, _, _, driver) = Create(1000);
        driver.Initialize();
        driver.SetDutyCycle(3, 0.5);
        driver.SetDutyCycle(9, 0.75);
        driver.SetFrequency(50);
        Assert.Equal(121, chip.RegisterImage[0xFE]);
        Assert.Equal(0, chip.RegisterImage[0x00] & 0x80); // RESTART consumed
        Assert.Equal(0.5, chip.DutyCycle(3));
        Assert.Equal(0.75, chip.DutyCycle(9));
    }

    [Fact]
    public void All_off_turns_every_channel_off_in_one_transfer()
    {
        var (chip, _, log, driver) = Create();
        driver.Initialize();
        for (int ch = 0; ch < 16; ch++) driver.SetDutyCycle(ch, (ch + 1) / 20.0);
        int writesBefore = log.Writes.Count;
        driver.AllOff();
        Assert.Equal(writesBefore + 1, log.Writes.Count);
        for (int ch = 0; ch < 16; ch++) Assert.True(chip.IsFullOff(ch), $"channel {ch}");
        // After all-off, setting the old duty again must write it (the cache knows the chip changed).
        driver.SetDutyCycle(5, 6 / 20.0);
        Assert.Equal(6 / 20.0, chip.DutyCycle(5), 3);
    }

    [Fact]
    public void Unchanged_duty_is_not_written_again()
    {
        var (_, _, log, driver) = Create();
        driver.Initialize();
        driver.SetDutyCycle(2, 0.4);
        int count = log.Writes.Count;
        driver.SetDutyCycle(2, 0.4);
        Assert.Equal(count, log.Writes.Count);
    }

    [Fact]
    public void Bus_fault_is_clear_and_the_retry_writes_the_duty()
    {
        var (chip, bus, _, driver) = Create();
        driver.Initialize();
        bus.FailNextTransfers(1);
        var ex = Assert.Throws<BusFaultException>(() => driver.SetDutyCycle(1, 0.5));
        Assert.Equal("PCA9685", ex.Device);
        Assert.Contains("address 0x40", ex.Message);
        Assert.Contains("LEDn_ON/OFF", ex.Message);
        Assert.Equal(0.0, chip.DutyCycle(1));

        driver.SetDutyCycle(1, 0.5);
        Assert.Equal(0.5, chip.DutyCycle(1));
    }

    [Fact]
    public void Pwm_channel_adapter_applies_duty_only_while_running()
    {
        var (chip, _, _, driver) = Create();
        driver.Initialize();
        using var pwm = new Pca9685PwmChannel(driver, 6);
        pwm.DutyCycle = 0.25;
        Assert.Equal(0.0, chip.DutyCycle(6));
        pwm.Start();
        Assert.Equal(0.25, chip.DutyCycle(6));
        pwm.DutyCycle = 0.5;
        Assert.Equal(0.5, chip.DutyCycle(6));
        Assert.Equal((int)Math.Round(25e6 / (4096 * 6.0)), pwm.Frequency); // prescale 5 → 1017 Hz
        pwm.Stop();
        Assert.True(chip.IsFullOff(6));
        Assert.Throws<ArgumentOutOfRangeException>(() => pwm.DutyCycle = 1.5);
        pwm.Frequency = 50;
        Assert.Equal(121, chip.RegisterImage[0xFE]);
    }

    [Fact]
    public void Set_duty_allocates_nothing_after_warm_up()
    {
        var (_, _, log, driver) = Create();
        driver.Initialize();
        log.Recording = false;
        for (int i = 0; i < 100; i++) driver.SetDutyCycle(i % 16, (i % 7) / 7.0);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) driver.SetDutyCycle(i % 16, (i % 7) / 7.0);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
