namespace RobotPG.Hardware;

/// <summary>PCA9685 registers (NXP PCA9685 product data sheet rev 4, §7.3 Table 4 "Register summary").</summary>
public enum Pca9685Register : byte
{
    /// <summary>§7.3.1, Table 5.</summary>
    Mode1 = 0x00,

    /// <summary>§7.3.2, Table 6.</summary>
    Mode2 = 0x01,

    /// <summary>LED0_ON_L; channel n's four registers ON_L, ON_H, OFF_L, OFF_H start at 0x06 + 4n (§7.3.3).</summary>
    Led0OnL = 0x06,

    /// <summary>ALL_LED_ON_L..ALL_LED_OFF_H (0xFA–0xFD) write every channel at once (§7.3.4).</summary>
    AllLedOnL = 0xFA,
    AllLedOnH = 0xFB,
    AllLedOffL = 0xFC,
    AllLedOffH = 0xFD,

    /// <summary>PRE_SCALE, writable only while MODE1.SLEEP is set (§7.3.5, Equation 1).</summary>
    Prescale = 0xFE,
}

/// <summary>MODE1 bits (§7.3.1, Table 5).</summary>
[Flags]
public enum Pca9685Mode1 : byte
{
    None = 0,
    AllCall = 0x01,
    Sleep = 0x10,
    /// <summary>Register pointer auto-increment, needed for the 4-byte LED writes.</summary>
    AutoIncrement = 0x20,
    ExternalClock = 0x40,
    Restart = 0x80,
}

/// <summary>MODE2 bits (§7.3.2, Table 6).</summary>
[Flags]
public enum Pca9685Mode2 : byte
{
    None = 0,
    /// <summary>Totem-pole outputs (the power-on default); open-drain when clear.</summary>
    OutputDrive = 0x04,
    Invert = 0x10,
}
