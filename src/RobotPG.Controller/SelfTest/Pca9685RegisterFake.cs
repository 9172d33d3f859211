namespace RobotPG.Controller.SelfTest;

/// <summary>
/// The PCA9685's register file (datasheet rev 4): power-on MODE1 0x11 (SLEEP, ALLCALL), MODE2 0x04,
/// every LEDn_OFF_H 0x10 (full off), PRE_SCALE 0x1E; the pointer auto-increments only with MODE1.AI;
/// PRE_SCALE takes writes only while SLEEP is set (§7.3.5); a write to ALL_LED_x (0xFA–0xFD) lands in
/// that register of all 16 channels (§7.3.4). Duty as the chip outputs it: full off wins over full on.
/// </summary>
public sealed class Pca9685RegisterFake : RegisterFileI2cDevice
{
    private const int Mode1 = 0x00, Mode2 = 0x01, Led0OnL = 0x06, AllLedOnL = 0xFA, Prescale = 0xFE;
    private const byte Sleep = 0x10, AutoIncrementBit = 0x20, Restart = 0x80, FullBit = 0x10;

    public Pca9685RegisterFake(int busId = 1, int address = 0x40)
        : base(busId, address, 256)
    {
        Registers[Mode1] = 0x11;
        Registers[Mode2] = 0x04;
        for (int channel = 0; channel < 16; channel++) Registers[Led0OnL + 4 * channel + 3] = FullBit;
        Registers[Prescale] = 0x1E;
    }

    /// <summary>PRE_SCALE as the chip holds it.</summary>
    public byte PrescaleRegister => Registers[Prescale];

    protected override bool AutoIncrement => (Registers[Mode1] & AutoIncrementBit) != 0;

    /// <summary>The 12-bit ON count of a channel.</summary>
    public int OnCount(int channel) => Registers[Led0OnL + 4 * channel] | (Registers[Led0OnL + 4 * channel + 1] & 0x0F) << 8;

    /// <summary>The 12-bit OFF count of a channel.</summary>
    public int OffCount(int channel) => Registers[Led0OnL + 4 * channel + 2] | (Registers[Led0OnL + 4 * channel + 3] & 0x0F) << 8;

    public bool FullOn(int channel) => (Registers[Led0OnL + 4 * channel + 1] & FullBit) != 0;

    public bool FullOff(int channel) => (Registers[Led0OnL + 4 * channel + 3] & FullBit) != 0;

    /// <summary>Fraction of the period the output is high (§7.3.3; full off takes precedence over full on).</summary>
    public double DutyCycle(int channel)
    {
        if (FullOff(channel)) return 0;
        if (FullOn(channel)) return 1;
        return ((OffCount(channel) - OnCount(channel) + 4096) % 4096) / 4096.0;
    }

    protected override void Store(int register, byte value)
    {
        switch (register)
        {
            case Mode1:
                // Writing RESTART = 1 clears it; the chip never reads it back set once restarted.
                base.Store(register, (byte)(value & ~Restart));
                break;
            case Prescale:
                if ((Registers[Mode1] & Sleep) != 0) base.Store(register, value);
                break;
            case >= AllLedOnL and < AllLedOnL + 4:
                for (int channel = 0; channel < 16; channel++) base.Store(Led0OnL + 4 * channel + (register - AllLedOnL), value);
                break;
            default:
                base.Store(register, value);
                break;
        }
    }
}
