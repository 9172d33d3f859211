using System.Device.Gpio;
using RobotPG.Sim.Devices;
using Xunit;

namespace RobotPG.Sim.Tests.Devices;

public class EmulatedI2cDeviceTests
{
    [Fact]
    public void WriteReadServesRegistersThroughTheRegisterPointer()
    {
        using var i2c = new EmulatedI2cDevice(new Mpu6050Emulator(), busId: 1);
        Assert.Equal(0x68, i2c.ConnectionSettings.DeviceAddress);
        Assert.Equal(1, i2c.ConnectionSettings.BusId);
        Span<byte> who = stackalloc byte[1];
        i2c.WriteRead([0x75], who);
        Assert.Equal(0x68, who[0]);
        i2c.WriteByte(0x6B);
        Assert.Equal(0x40, i2c.ReadByte());
        Assert.Equal(3, i2c.TransferCount);
        Assert.Equal(2, i2c.BytesWritten);
        Assert.Equal(2, i2c.BytesRead);
    }

    [Fact]
    public void InjectedFaultsThrowLikeANackThenClear()
    {
        var mpu = new Mpu6050Emulator();
        using var i2c = new EmulatedI2cDevice(mpu);
        i2c.FailNextTransfers(2);
        Assert.Throws<IOException>(() => i2c.Write([0x6B, 0x01]));
        Assert.Throws<IOException>(() => i2c.Write([0x6B, 0x01]));
        Assert.True(mpu.IsSleeping); // failed writes never reached the chip
        i2c.Write([0x6B, 0x01]);
        Assert.False(mpu.IsSleeping);
        Assert.Equal(3, i2c.TransferCount);
        Assert.Equal(2, i2c.FailedTransferCount);
    }

    [Fact]
    public void InjectedExceptionAndDisconnection()
    {
        using var i2c = new EmulatedI2cDevice(new Pca9685Emulator());
        i2c.FailNextTransfers(1, new TimeoutException("bus stuck"));
        Assert.Throws<TimeoutException>(() => i2c.ReadByte());
        i2c.Disconnected = true;
        Assert.Throws<IOException>(() => i2c.ReadByte());
        i2c.Disconnected = false;
        Assert.Equal(0x11, i2c.ReadByte()); // pointer still at MODE1
    }
}

public class EmulatedPwmChannelTests
{
    [Fact]
    public void OutputsTheDutyOnlyWhileRunning()
    {
        using var pwm = new EmulatedPwmChannel(0, 1, 20_000, 0.0);
        pwm.DutyCycle = 0.3;
        Assert.Equal(0.0, pwm.OutputDuty);
        pwm.Start();
        Assert.True(pwm.IsRunning);
        Assert.Equal(0.3, pwm.OutputDuty);
        pwm.Stop();
        Assert.Equal(0.0, pwm.OutputDuty);
        Assert.Equal(20_000, pwm.Frequency);
        Assert.Throws<ArgumentOutOfRangeException>(() => pwm.DutyCycle = 1.5);
    }
}

public class EmulatedGpioDriverTests
{
    [Fact]
    public void OutputsLatchAndInputsFollowTheDrivenLevel()
    {
        var driver = new EmulatedGpioDriver();
        using var gpio = new GpioController(driver);
        gpio.OpenPin(17, PinMode.Output);
        gpio.Write(17, PinValue.High);
        Assert.True(driver.Level(17));
        Assert.Equal(PinValue.High, gpio.Read(17));
        gpio.OpenPin(4, PinMode.InputPullUp);
        Assert.Equal(PinValue.High, gpio.Read(4));
        driver.DriveInput(4, false);
        Assert.Equal(PinValue.Low, gpio.Read(4));
        Assert.Equal(PinMode.InputPullUp, driver.ModeOf(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => driver.Level(28));
    }

    [Fact]
    public void CallbacksAreFilteredByEdge()
    {
        var driver = new EmulatedGpioDriver();
        using var gpio = new GpioController(driver);
        gpio.OpenPin(5, PinMode.Input);
        int rising = 0, falling = 0, both = 0;
        PinChangeEventHandler onRising = (_, e) => { Assert.Equal(PinEventTypes.Rising, e.ChangeType); rising++; };
        gpio.RegisterCallbackForPinValueChangedEvent(5, PinEventTypes.Rising, onRising);
        gpio.RegisterCallbackForPinValueChangedEvent(5, PinEventTypes.Falling, (_, e) => { Assert.Equal(PinEventTypes.Falling, e.ChangeType); falling++; });
        gpio.RegisterCallbackForPinValueChangedEvent(5, PinEventTypes.Rising | PinEventTypes.Falling, (_, e) => { Assert.Equal(5, e.PinNumber); both++; });
        driver.DriveInput(5, true);
        driver.DriveInput(5, true); // no change, no edge
        driver.DriveInput(5, false);
        driver.DriveInput(5, true);
        Assert.Equal((2, 1, 3), (rising, falling, both));
        gpio.UnregisterCallbackForPinValueChangedEvent(5, onRising);
        driver.DriveInput(5, false);
        driver.DriveInput(5, true);
        Assert.Equal((2, 2, 5), (rising, falling, both));
    }

    [Fact]
    public void WaitForEventReportsATimeoutWhenCancelled()
    {
        var driver = new EmulatedGpioDriver();
        using var gpio = new GpioController(driver);
        gpio.OpenPin(6, PinMode.Input);
        var result = gpio.WaitForEvent(6, PinEventTypes.Rising, new CancellationToken(canceled: true));
        Assert.True(result.TimedOut);
    }
}

public class QuadratureEncoderEmulatorTests
{
    /// <summary>
    /// An independent ×4 decoder working from the pins' levels: the classic 16-entry transition table
    /// indexed by (previous AB, new AB).
    /// </summary>
    private sealed class TableDecoder
    {
        private static readonly int[] Table = [0, -1, 1, 0, 1, 0, 0, -1, -1, 0, 0, 1, 0, 1, -1, 0];
        private int _state;
        public long Count;
        public int InvalidTransitions;

        public void Update(bool a, bool b)
        {
            int next = (a ? 2 : 0) | (b ? 1 : 0);
            int index = (_state << 2) | next;
            if (next != _state && Table[index] == 0) InvalidTransitions++;
            // Forward (A leads B: 00→10→11→01, indices 0→2→3→1) reads +1 in this table.
            Count += Table[index];
            _state = next;
        }
    }

    [Fact]
    public void ShaftAngleProducesOneGrayEdgePerCount()
    {
        var driver = new EmulatedGpioDriver();
        using var gpio = new GpioController(driver);
        gpio.OpenPin(23, PinMode.Input);
        gpio.OpenPin(24, PinMode.Input);
        var encoder = new QuadratureEncoderEmulator(driver, 23, 24, countsPerRevolution: 1440);
        var decoder = new TableDecoder();
        int edges = 0;
        PinChangeEventHandler onEdge = (_, _) => { edges++; decoder.Update(driver.Level(23), driver.Level(24)); };
        gpio.RegisterCallbackForPinValueChangedEvent(23, PinEventTypes.Rising | PinEventTypes.Falling, onEdge);
        gpio.RegisterCallbackForPinValueChangedEvent(24, PinEventTypes.Rising | PinEventTypes.Falling, onEdge);

        encoder.SetShaftAngle(2 * Math.PI + 1e-9);
        Assert.Equal(1440, encoder.Count);
        Assert.Equal(1440, decoder.Count);
        Assert.Equal(1440, edges);

        encoder.SetShaftAngle(-0.25 * 2 * Math.PI - 1e-9);
        Assert.Equal(-361, encoder.Count); // floor(−360.0000…)
        Assert.Equal(-361, decoder.Count);
        Assert.Equal(1440 + 1801, edges);
        Assert.Equal(0, decoder.InvalidTransitions);
    }

    [Fact]
    public void ForwardMotionHasALeadingB()
    {
        var driver = new EmulatedGpioDriver();
        var encoder = new QuadratureEncoderEmulator(driver, 2, 3, 400);
        var states = new List<(bool, bool)>();
        for (int i = 0; i < 4; i++)
        {
            encoder.Advance(1);
            states.Add((driver.Level(2), driver.Level(3)));
        }
        Assert.Equal([(true, false), (true, true), (false, true), (false, false)], states);
    }
}
