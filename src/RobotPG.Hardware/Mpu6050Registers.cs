namespace RobotPG.Hardware;

/// <summary>
/// MPU-6050 registers used by <see cref="Mpu6050"/> (MPU-6000/MPU-6050 Register Map and Descriptions,
/// rev 4.2, section 3 "Register Map"; per-register sections cited on each member).
/// </summary>
public enum Mpu6050Register : byte
{
    /// <summary>§4.2 (p. 11): sample rate = gyro output rate / (1 + SMPLRT_DIV).</summary>
    SampleRateDivider = 0x19,

    /// <summary>§4.3 (p. 13): DLPF_CFG in bits 2:0.</summary>
    Config = 0x1A,

    /// <summary>§4.4 (p. 14): FS_SEL in bits 4:3.</summary>
    GyroConfig = 0x1B,

    /// <summary>§4.5 (p. 15): AFS_SEL in bits 4:3.</summary>
    AccelConfig = 0x1C,

    /// <summary>§4.17 (p. 29): first of the 14 data bytes (accel XYZ, temperature, gyro XYZ), big-endian.</summary>
    AccelXOutH = 0x3B,

    /// <summary>§4.18 (p. 30).</summary>
    TempOutH = 0x41,

    /// <summary>§4.19 (p. 31).</summary>
    GyroXOutH = 0x43,

    /// <summary>§4.26 (p. 37).</summary>
    SignalPathReset = 0x68,

    /// <summary>§4.28 (p. 40): DEVICE_RESET bit 7, SLEEP bit 6, TEMP_DIS bit 3, CLKSEL bits 2:0.</summary>
    PowerManagement1 = 0x6B,

    /// <summary>§4.29 (p. 42).</summary>
    PowerManagement2 = 0x6C,

    /// <summary>§4.32 (p. 45): bits 6:1 of the I2C address; reads 0x68 whatever AD0 is.</summary>
    WhoAmI = 0x75,
}

/// <summary>PWR_MGMT_1 bits (register map §4.28).</summary>
[Flags]
public enum Mpu6050PowerManagement1 : byte
{
    None = 0,
    /// <summary>CLKSEL = 1: PLL with the X gyro as reference, recommended over the 8 MHz oscillator for stability (§4.28).</summary>
    ClockPllGyroX = 0x01,
    TemperatureDisable = 0x08,
    Cycle = 0x20,
    Sleep = 0x40,
    DeviceReset = 0x80,
}

/// <summary>Accelerometer full-scale range, the AFS_SEL value of ACCEL_CONFIG (register map §4.5).</summary>
public enum Mpu6050AccelRange : byte
{
    PlusMinus2G = 0,
    PlusMinus4G = 1,
    PlusMinus8G = 2,
    PlusMinus16G = 3,
}

/// <summary>Gyroscope full-scale range, the FS_SEL value of GYRO_CONFIG (register map §4.4).</summary>
public enum Mpu6050GyroRange : byte
{
    PlusMinus250DegreesPerSecond = 0,
    PlusMinus500DegreesPerSecond = 1,
    PlusMinus1000DegreesPerSecond = 2,
    PlusMinus2000DegreesPerSecond = 3,
}

/// <summary>
/// Digital low-pass filter, the DLPF_CFG value of CONFIG (register map §4.3, table there):
/// accelerometer / gyroscope bandwidth. Off (0) runs the gyro at 8 kHz, every other setting at 1 kHz.
/// </summary>
public enum Mpu6050LowPassFilter : byte
{
    Off260Hz = 0,
    Bandwidth184Hz = 1,
    Bandwidth94Hz = 2,
    Bandwidth44Hz = 3,
    Bandwidth21Hz = 4,
    Bandwidth10Hz = 5,
    Bandwidth5Hz = 6,
}
