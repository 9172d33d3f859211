using System.Device.I2c;

namespace RobotPG.Hardware;

/// <summary>Start-up settings of a <see cref="Pca9685"/>.</summary>
public sealed record Pca9685Options
{
    public int Address { get; init; } = Pca9685.DefaultAddress;

    /// <summary>PWM frequency of all 16 channels, Hz (24–1526 Hz with the internal oscillator).</summary>
    public double FrequencyHz { get; init; } = 1000;

    /// <summary>Oscillator frequency: 25 MHz internal (datasheet §7.3.5), or the EXTCLK source.</summary>
    public double OscillatorHz { get; init; } = Pca9685.InternalOscillatorHz;

    /// <summary>Totem-pole outputs (MODE2.OUTDRV, the default) drive H-bridge inputs directly; open-drain otherwise.</summary>
    public bool TotemPoleOutputs { get; init; } = true;

    /// <summary>Oscillator start-up time after clearing SLEEP (datasheet §7.3.1.1: 500 µs); waited for at least this long.</summary>
    public TimeSpan OscillatorStartup { get; init; } = TimeSpan.FromMicroseconds(500);
}

/// <summary>
/// The NXP PCA9685 16-channel 12-bit PWM controller on I2C. <see cref="Initialize"/> turns every
/// output full off, sets MODE2, and runs the frequency sequence of datasheet §7.3.1.1 / §7.3.5:
/// SLEEP → PRE_SCALE → wake → 500 µs → RESTART with auto-increment. Per-channel duty is written as one
/// 5-byte auto-increment transfer (register + ON_L, ON_H, OFF_L, OFF_H) using the full-on/full-off
/// bit 4 of ON_H/OFF_H (§7.3.3) for 100 % and 0 %.
/// </summary>
public sealed class Pca9685 : IDisposable
{
    public const int DefaultAddress = 0x40;
    public const int ChannelCount = 16;
    public const double InternalOscillatorHz = 25_000_000.0;

    /// <summary>Counts per PWM period (12 bits).</summary>
    public const int Resolution = 4096;

    /// <summary>Bit 4 of LEDn_ON_H / LEDn_OFF_H: full on / full off (bit 12 of the 13-bit count).</summary>
    public const byte FullBit = 0x10;

    private const string DeviceName = "PCA9685";

    private readonly I2cDevice _device;
    private readonly bool _ownsDevice;
    private readonly int[] _lastOffCount = new int[ChannelCount];
    private byte _prescale;

    public Pca9685(I2cDevice device, Pca9685Options? options = null, bool ownsDevice = false)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
        _ownsDevice = ownsDevice;
        Options = options ?? new Pca9685Options();
        Array.Fill(_lastOffCount, -1);
    }

    public Pca9685Options Options { get; }

    /// <summary>PRE_SCALE in use.</summary>
    public byte Prescale => _prescale;

    /// <summary>The frequency the chip actually runs at: oscillator / (4096 · (PRE_SCALE + 1)).</summary>
    public double FrequencyHz => _prescale == 0 ? 0 : Options.OscillatorHz / (Resolution * (_prescale + 1.0));

    /// <summary>
    /// Datasheet §7.3.5, Equation 1: PRE_SCALE = round(osc / (4096 · f)) − 1; the chip clamps values
    /// below 3, so frequencies that need less (above 1526 Hz at 25 MHz) or more than 255 (below 24 Hz) are refused.
    /// </summary>
    public static byte ComputePrescale(double frequencyHz, double oscillatorHz = InternalOscillatorHz)
    {
        if (!(frequencyHz > 0) || double.IsInfinity(frequencyHz))
            throw new ArgumentOutOfRangeException(nameof(frequencyHz), frequencyHz, "PWM frequency must be a positive number of Hz");
        double prescale = Math.Round(oscillatorHz / (Resolution * frequencyHz)) - 1;
        if (prescale < 3 || prescale > 255)
        {
            throw new ArgumentOutOfRangeException(nameof(frequencyHz), frequencyHz,
                $"PCA9685 runs at {oscillatorHz / (Resolution * 256.0):F1}–{oscillatorHz / (Resolution * 4.0):F1} Hz with a {oscillatorHz / 1e6} MHz oscillator");
        }
        return (byte)prescale;
    }

    /// <summary>Every output full off, MODE2 output stage, then the configured frequency.</summary>
    public void Initialize()
    {
        // Asleep with auto-increment on, so the 4-byte ALL_LED write below lands in all four registers.
        WriteRegister(Pca9685Register.Mode1, (byte)(Pca9685Mode1.Sleep | Pca9685Mode1.AutoIncrement), "MODE1");
        AllOff();
        WriteRegister(Pca9685Register.Mode2, Options.TotemPoleOutputs ? (byte)Pca9685Mode2.OutputDrive : (byte)0, "MODE2");
        SetFrequency(Options.FrequencyHz);
    }

    /// <summary>
    /// Sets the PWM frequency of every channel (datasheet §7.3.1.1 restart sequence): MODE1 with SLEEP
    /// (RESTART left 0 so it is not cleared early), PRE_SCALE, MODE1 without SLEEP, 500 µs for the
    /// oscillator, then MODE1 with RESTART and AI so running channels resume their duty.
    /// </summary>
    public void SetFrequency(double frequencyHz)
    {
        byte prescale = ComputePrescale(frequencyHz, Options.OscillatorHz);
        byte mode1 = (byte)(ReadRegister(Pca9685Register.Mode1, "read of MODE1") & ~(byte)Pca9685Mode1.Restart);
        byte awake = (byte)((mode1 & ~(byte)Pca9685Mode1.Sleep) | (byte)Pca9685Mode1.AutoIncrement);
        WriteRegister(Pca9685Register.Mode1, (byte)(awake | (byte)Pca9685Mode1.Sleep), "MODE1 (sleep)");
        WriteRegister(Pca9685Register.Prescale, prescale, "PRE_SCALE");
        WriteRegister(Pca9685Register.Mode1, awake, "MODE1 (wake)");
        WaitAtLeast(Options.OscillatorStartup);
        WriteRegister(Pca9685Register.Mode1, (byte)(awake | (byte)Pca9685Mode1.Restart), "MODE1 (restart)");
        _prescale = prescale;
    }

    /// <summary>
    /// Duty cycle of one channel in [0, 1]: 0 → full off, 1 → full on, else ON = 0 and
    /// OFF = round(duty · 4096). Skips the transfer when the channel already has that setting.
    /// Allocates nothing.
    /// </summary>
    public void SetDutyCycle(int channel, double dutyCycle)
    {
        CheckChannel(channel);
        // NaN maps to off: an undefined command must never drive a motor.
        int off = double.IsNaN(dutyCycle) ? 0 : (int)Math.Round(Math.Clamp(dutyCycle, 0.0, 1.0) * Resolution);
        if (off == _lastOffCount[channel]) return;
        Span<byte> transfer = stackalloc byte[5];
        transfer[0] = (byte)((byte)Pca9685Register.Led0OnL + 4 * channel);
        if (off <= 0)
        {
            transfer[1] = 0; transfer[2] = 0; transfer[3] = 0; transfer[4] = FullBit;
        }
        else if (off >= Resolution)
        {
            transfer[1] = 0; transfer[2] = FullBit; transfer[3] = 0; transfer[4] = 0;
        }
        else
        {
            transfer[1] = 0; transfer[2] = 0; transfer[3] = (byte)(off & 0xFF); transfer[4] = (byte)(off >> 8);
        }
        Write(transfer, "write of LEDn_ON/OFF");
        _lastOffCount[channel] = off;
    }

    /// <summary>The duty last written to a channel (what <see cref="SetDutyCycle"/> encoded), in [0, 1].</summary>
    public double GetDutyCycle(int channel)
    {
        CheckChannel(channel);
        int off = _lastOffCount[channel];
        return off <= 0 ? 0.0 : off >= Resolution ? 1.0 : off / (double)Resolution;
    }

    /// <summary>Every channel full off in one transfer to ALL_LED (§7.3.4).</summary>
    public void AllOff()
    {
        Span<byte> transfer = [(byte)Pca9685Register.AllLedOnL, 0, 0, 0, FullBit];
        Write(transfer, "write of ALL_LED full off");
        Array.Fill(_lastOffCount, 0);
    }

    /// <summary>
    /// Low-rate health check: reads MODE1 and PRE_SCALE back. After a brown-out the chip is back at its
    /// power-on state (MODE1 0x11: asleep, so every output is off; PRE_SCALE 0x1E), which no command of
    /// this driver produces. Throws <see cref="BusFaultException"/> naming the registers when they differ
    /// from what <see cref="Initialize"/> set (SLEEP clear, AI set, the configured PRE_SCALE). Allocates nothing.
    /// </summary>
    public void VerifyConfiguration()
    {
        byte mode1 = ReadRegister(Pca9685Register.Mode1, "read-back of MODE1");
        byte prescale = ReadRegister(Pca9685Register.Prescale, "read-back of PRE_SCALE");
        bool asleep = (mode1 & (byte)Pca9685Mode1.Sleep) != 0;
        bool autoIncrement = (mode1 & (byte)Pca9685Mode1.AutoIncrement) != 0;
        if (asleep || !autoIncrement || prescale != _prescale)
        {
            // Channel state is unknown now: the next SetDutyCycle writes again.
            Array.Fill(_lastOffCount, -1);
            throw new BusFaultException(DeviceName, _device.ConnectionSettings, "read-back of MODE1/PRE_SCALE", BrownOutReason(mode1, prescale), faultName: "pca-brownout");
        }
    }

    private string BrownOutReason(byte mode1, byte prescale) =>
        $"MODE1 0x{mode1:X2} PRE_SCALE 0x{prescale:X2}, expected SLEEP clear, AI set, PRE_SCALE 0x{_prescale:X2} (reset or brown-out)";

    /// <summary>
    /// Waits at least <paramref name="time"/>: Thread.Sleep takes whole milliseconds and truncates 500 µs
    /// to 0, so sub-millisecond waits spin on the Stopwatch (start-up only).
    /// </summary>
    private static void WaitAtLeast(TimeSpan time)
    {
        if (time <= TimeSpan.Zero) return;
        long until = System.Diagnostics.Stopwatch.GetTimestamp() + (long)Math.Ceiling(time.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        if (time >= TimeSpan.FromMilliseconds(2)) Thread.Sleep(time - TimeSpan.FromMilliseconds(1));
        while (System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.SpinWait(64);
    }

    public void Dispose()
    {
        if (_ownsDevice) _device.Dispose();
    }

    private static void CheckChannel(int channel)
    {
        if ((uint)channel >= ChannelCount)
            throw new ArgumentOutOfRangeException(nameof(channel), channel, "PCA9685 has channels 0–15");
    }

    private byte ReadRegister(Pca9685Register register, string operation)
    {
        Span<byte> address = [(byte)register];
        Span<byte> value = stackalloc byte[1];
        try
        {
            _device.WriteRead(address, value);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            throw Fault(operation, ex.Message, ex);
        }
        return value[0];
    }

    private void WriteRegister(Pca9685Register register, byte value, string name)
    {
        Span<byte> transfer = [(byte)register, value];
        Write(transfer, $"write of {name}");
    }

    private void Write(ReadOnlySpan<byte> transfer, string operation)
    {
        try
        {
            _device.Write(transfer);
        }
        catch (Exception ex) when (BusFaultException.IsTransferFailure(ex))
        {
            // The channel's state is unknown now: force the next SetDutyCycle to write again.
            Array.Fill(_lastOffCount, -1);
            throw Fault(operation, ex.Message, ex);
        }
    }

    private BusFaultException Fault(string operation, string reason, Exception? inner = null) =>
        new(DeviceName, _device.ConnectionSettings, operation, reason, inner);
}
