namespace RobotPG.Sim.Devices;

/// <summary>
/// The PCA9685 16-channel 12-bit PWM controller at register level (datasheet rev 4): MODE1
/// (RESTART, AI, SLEEP, ALLCALL), MODE2 (INVRT), LEDn_ON/OFF at 0x06 + 4n, ALL_LED at 0xFA–0xFD,
/// PRESCALE at 0xFE (writable only while SLEEP is set), a 25 MHz internal oscillator.
/// The register pointer advances after a byte only while MODE1.AI is set; in the LED block it
/// rolls over from 0x45 to 0x00 as on the chip. ALL_LED registers write every channel and read 0.
/// </summary>
public sealed class Pca9685Emulator : IRegisterDevice, IRegisterImage
{
    public const int DefaultAddress = 0x40;
    public const int ChannelCount = 16;
    public const int RegisterCount = 256;
    public const double OscillatorHz = 25_000_000.0;

    public const byte Mode1 = 0x00;
    public const byte Mode2 = 0x01;
    public const byte Led0OnL = 0x06;
    public const byte AllLedOnL = 0xFA;
    public const byte AllLedOffH = 0xFD;
    public const byte Prescale = 0xFE;

    public const byte Mode1Restart = 0x80;
    public const byte Mode1ExtClk = 0x40;
    public const byte Mode1AutoIncrement = 0x20;
    public const byte Mode1Sleep = 0x10;
    public const byte Mode1AllCall = 0x01;
    public const byte Mode2Invert = 0x10;
    public const byte Mode2OutDrv = 0x04;

    /// <summary>Bit 4 of LEDn_ON_H / LEDn_OFF_H: the full-on / full-off bit (bit 12 of the 13-bit value).</summary>
    public const byte FullBit = 0x10;

    private const int LastLedRegister = 0x45;

    private readonly byte[] _registers = new byte[RegisterCount];
    private int _pointer;

    public Pca9685Emulator(int address = DefaultAddress)
    {
        if (address < 0x03 || address > 0x77)
            throw new ArgumentOutOfRangeException(nameof(address), address, "a 7-bit I2C address is 0x03–0x77");
        Address = address;
        PowerOnReset();
    }

    public int Address { get; }

    /// <summary>Datasheet §7.3.1.1: the oscillator needs 500 µs after SLEEP is cleared.</summary>
    public const double OscillatorStartupMicroseconds = 500;

    private long _wokeAt;

    /// <summary>RESTART writes that came less than 500 µs after the wake-up (a driver that does not wait for the oscillator).</summary>
    public int EarlyRestarts { get; private set; }

    public ReadOnlySpan<byte> RegisterImage => _registers;

    public int RegisterPointer => _pointer;

    public bool IsSleeping => (_registers[Mode1] & Mode1Sleep) != 0;

    /// <summary>PWM frequency of every channel: 25 MHz / (4096 · (PRESCALE + 1)).</summary>
    public double FrequencyHz => OscillatorHz / (4096.0 * (_registers[Prescale] + 1));

    /// <summary>Power-on register values: MODE1 0x11 (asleep, ALLCALL), MODE2 0x04, every LED full off, PRESCALE 0x1E (200 Hz).</summary>
    public void PowerOnReset()
    {
        Array.Clear(_registers);
        _registers[Mode1] = Mode1Sleep | Mode1AllCall;
        _registers[Mode2] = Mode2OutDrv;
        _registers[0x02] = 0xE2; // SUBADR1
        _registers[0x03] = 0xE4; // SUBADR2
        _registers[0x04] = 0xE8; // SUBADR3
        _registers[0x05] = 0xE0; // ALLCALLADR
        for (int ch = 0; ch < ChannelCount; ch++)
            _registers[Led0OnL + 4 * ch + 3] = FullBit;
        _registers[Prescale] = 0x1E;
        _pointer = 0;
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        _pointer = data[0];
        for (int i = 1; i < data.Length; i++)
        {
            WriteRegister(_pointer, data[i]);
            Advance();
        }
    }

    public void Read(Span<byte> buffer)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            buffer[i] = _pointer >= AllLedOnL && _pointer <= AllLedOffH ? (byte)0 : _registers[_pointer];
            Advance();
        }
    }

    private void Advance()
    {
        if ((_registers[Mode1] & Mode1AutoIncrement) == 0) return;
        _pointer = _pointer == LastLedRegister ? 0 : (_pointer + 1) & 0xFF;
    }

    private void WriteRegister(int register, byte value)
    {
        if (register == Mode1)
        {
            byte old = _registers[Mode1];
            byte next = (byte)(value & ~Mode1Restart);
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            if ((old & Mode1Sleep) != 0 && (value & Mode1Sleep) == 0) _wokeAt = now;
            // Datasheet §7.3.1.1: RESTART needs the oscillator, stable 500 µs after SLEEP is cleared.
            if ((value & Mode1Restart) != 0 && (value & Mode1Sleep) == 0
                && (now - _wokeAt) * 1_000_000.0 / System.Diagnostics.Stopwatch.Frequency < OscillatorStartupMicroseconds)
                EarlyRestarts++;
            // RESTART reads 1 after PWM was running when SLEEP got set; writing 1 to it clears it.
            bool restartFlag = (old & Mode1Restart) != 0;
            if ((value & Mode1Restart) != 0) restartFlag = false;
            if ((old & Mode1Sleep) == 0 && (value & Mode1Sleep) != 0) restartFlag = true;
            // EXTCLK is sticky: only a power cycle clears it.
            next |= (byte)(old & Mode1ExtClk);
            _registers[Mode1] = (byte)(next | (restartFlag ? Mode1Restart : 0));
        }
        else if (register == Prescale)
        {
            if (!IsSleeping) return; // the chip ignores PRESCALE writes while the oscillator runs
            _registers[Prescale] = value < 3 ? (byte)3 : value;
        }
        else if (register >= AllLedOnL && register <= AllLedOffH)
        {
            int offset = register - AllLedOnL;
            for (int ch = 0; ch < ChannelCount; ch++)
                _registers[Led0OnL + 4 * ch + offset] = value;
        }
        else if (register == 0xFF || (register > LastLedRegister && register < AllLedOnL))
        {
            // reserved: ignored
        }
        else
        {
            _registers[register] = value;
        }
    }

    /// <summary>12-bit ON count of a channel (bit 12, full on, excluded).</summary>
    public int OnCount(int channel) => Count(ChannelRegister(channel));

    /// <summary>12-bit OFF count of a channel (bit 12, full off, excluded).</summary>
    public int OffCount(int channel) => Count(ChannelRegister(channel) + 2);

    public bool IsFullOn(int channel) => (_registers[ChannelRegister(channel) + 1] & FullBit) != 0;

    public bool IsFullOff(int channel) => (_registers[ChannelRegister(channel) + 3] & FullBit) != 0;

    /// <summary>
    /// Fraction of each PWM period the output is high, in [0, 1]: full off wins over full on; else
    /// (OFF − ON) mod 4096 over 4096; 0 while asleep (the oscillator is stopped); inverted by MODE2.INVRT.
    /// </summary>
    public double DutyCycle(int channel)
    {
        int reg = ChannelRegister(channel);
        double duty;
        if (IsSleeping || (_registers[reg + 3] & FullBit) != 0) duty = 0.0;
        else if ((_registers[reg + 1] & FullBit) != 0) duty = 1.0;
        else duty = ((Count(reg + 2) - Count(reg)) & 0xFFF) / 4096.0;
        return (_registers[Mode2] & Mode2Invert) != 0 ? 1.0 - duty : duty;
    }

    private static int ChannelRegister(int channel)
    {
        if ((uint)channel >= ChannelCount)
            throw new ArgumentOutOfRangeException(nameof(channel), channel, "PCA9685 has channels 0–15");
        return Led0OnL + 4 * channel;
    }

    private int Count(int lowRegister) => _registers[lowRegister] | ((_registers[lowRegister + 1] & 0x0F) << 8);
}
