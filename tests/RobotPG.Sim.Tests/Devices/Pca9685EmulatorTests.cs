using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Sim.Tests.Devices;

public class Pca9685EmulatorTests
{
    private static byte ReadRegister(IRegisterDevice device, byte register)
    {
        device.Write([register]);
        Span<byte> one = stackalloc byte[1];
        device.Read(one);
        return one[0];
    }

    /// <summary>Wakes with auto-increment, as drivers do after programming the prescaler.</summary>
    private static Pca9685Emulator AwakeWithAutoIncrement()
    {
        var pca = new Pca9685Emulator();
        pca.Write([0x00, 0x20]);
        return pca;
    }

    private static void SetChannel(IRegisterDevice pca, int channel, int on, int off) =>
        pca.Write([(byte)(0x06 + 4 * channel), (byte)(on & 0xFF), (byte)(on >> 8), (byte)(off & 0xFF), (byte)(off >> 8)]);

    [Fact]
    public void PowerOnStateMatchesTheDatasheet()
    {
        var pca = new Pca9685Emulator();
        Assert.Equal(0x11, ReadRegister(pca, 0x00));
        Assert.Equal(0x04, ReadRegister(pca, 0x01));
        Assert.Equal(0x1E, ReadRegister(pca, 0xFE));
        // 25 MHz / (4096 · 31) = 196.89 Hz, the datasheet's "200 Hz" default.
        Assert.Equal(196.89, pca.FrequencyHz, 2);
        for (int ch = 0; ch < 16; ch++)
        {
            Assert.True(pca.IsFullOff(ch));
            Assert.Equal(0.0, pca.DutyCycle(ch));
        }
    }

    [Theory]
    // PRESCALE = round(25 MHz / (4096 f)) − 1, worked by hand: 50 Hz → round(122.07) − 1 = 121; 1 kHz → round(6.10) − 1 = 5.
    [InlineData(50.0, 121)]
    [InlineData(1000.0, 5)]
    public void PrescaleGivesTheRequestedFrequency(double hz, byte prescale)
    {
        var pca = new Pca9685Emulator();
        pca.Write([0xFE, prescale]); // asleep after power-on: accepted
        Assert.Equal(prescale, ReadRegister(pca, 0xFE));
        Assert.Equal(25e6 / (4096.0 * (prescale + 1)), pca.FrequencyHz, 9);
        // The 8-bit prescaler cannot hit 1 kHz exactly (1017 Hz); 2 % is the datasheet formula's rounding.
        Assert.InRange(pca.FrequencyHz, hz * 0.98, hz * 1.02);
    }

    [Fact]
    public void PrescaleIsIgnoredWhileAwakeAndClampedToThree()
    {
        var pca = new Pca9685Emulator();
        pca.Write([0x00, 0x00]); // wake
        pca.Write([0xFE, 121]);
        Assert.Equal(0x1E, ReadRegister(pca, 0xFE));
        pca.Write([0x00, 0x10]); // sleep
        pca.Write([0xFE, 0x01]);
        Assert.Equal(3, ReadRegister(pca, 0xFE));
    }

    [Theory]
    [InlineData(0, 2048, 0.5)]
    [InlineData(0, 1024, 0.25)]
    [InlineData(1000, 2024, 0.25)]
    [InlineData(4000, 96, 192.0 / 4096)]        // wraps around the end of the period
    [InlineData(100, 100, 0.0)]                 // ON == OFF: never high
    [InlineData(0x1000, 0, 1.0)]                // full on
    [InlineData(0, 0x1000, 0.0)]                // full off
    [InlineData(0x1000, 0x1000, 0.0)]           // full off wins over full on
    [InlineData(0x1000 | 123, 0x800, 1.0)]      // full on ignores the counts
    public void DutyFromOnOffPairs(int on, int off, double duty)
    {
        var pca = AwakeWithAutoIncrement();
        SetChannel(pca, 5, on, off);
        Assert.Equal(duty, pca.DutyCycle(5), 12);
        Assert.Equal(0.0, pca.DutyCycle(4));
    }

    [Fact]
    public void WithoutAutoIncrementEveryByteLandsInOneRegister()
    {
        var pca = new Pca9685Emulator();
        pca.Write([0x00, 0x00]); // awake, AI clear
        pca.Write([0x06, 0x11, 0x22, 0x33]);
        Assert.Equal(0x33, ReadRegister(pca, 0x06));
        Assert.Equal(0x00, ReadRegister(pca, 0x07));
        var two = new byte[2];
        pca.Write([0x06]);
        pca.Read(two);
        Assert.Equal(new byte[] { 0x33, 0x33 }, two);
    }

    [Fact]
    public void AutoIncrementRollsOverAtTheEndOfTheLedBlock()
    {
        var pca = AwakeWithAutoIncrement();
        SetChannel(pca, 15, 0x123, 0x456);
        var bytes = new byte[5];
        pca.Write([0x42]);
        pca.Read(bytes);
        Assert.Equal(new byte[] { 0x23, 0x01, 0x56, 0x04, 0x20 }, bytes); // 0x42..0x45 then MODE1 at 0x00
    }

    [Fact]
    public void AllLedWritesEveryChannelAndReadsZero()
    {
        var pca = AwakeWithAutoIncrement();
        pca.Write([0xFA, 0x00, 0x00, 0x00, 0x04]); // ALL_LED ON=0 OFF=1024
        for (int ch = 0; ch < 16; ch++) Assert.Equal(0.25, pca.DutyCycle(ch), 12);
        Assert.Equal(0, ReadRegister(pca, 0xFD));
    }

    [Fact]
    public void SleepStopsOutputsAndSetsRestart()
    {
        var pca = AwakeWithAutoIncrement();
        SetChannel(pca, 0, 0, 2048);
        pca.Write([0x00, 0x30]); // SLEEP | AI
        Assert.Equal(0.0, pca.DutyCycle(0));
        Assert.Equal(0x80, ReadRegister(pca, 0x00) & 0x80);
        pca.Write([0x00, 0x20]); // wake, RESTART still pending
        Assert.Equal(0x80, ReadRegister(pca, 0x00) & 0x80);
        Assert.Equal(0.5, pca.DutyCycle(0), 12);
        pca.Write([0x00, 0xA0]); // writing 1 to RESTART clears it
        Assert.Equal(0x20, ReadRegister(pca, 0x00));
    }

    [Fact]
    public void InvertFlipsTheOutput()
    {
        var pca = AwakeWithAutoIncrement();
        SetChannel(pca, 3, 0, 1024);
        pca.Write([0x01, 0x14]); // INVRT | OUTDRV
        Assert.Equal(0.75, pca.DutyCycle(3), 12);
    }

    [Fact]
    public void ChannelOutOfRangeIsRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Pca9685Emulator().DutyCycle(16));
}
