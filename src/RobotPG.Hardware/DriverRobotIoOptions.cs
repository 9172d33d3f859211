namespace RobotPG.Hardware;

/// <summary>
/// The robot's wiring for <see cref="DriverRobotIo"/>: IMU and PWM chip on one I2C bus, motors and
/// encoders on GPIO. The controller's config loader fills it from the robot's JSON.
/// </summary>
public sealed record DriverRobotIoOptions
{
    /// <summary>I2C bus number (1 on a Raspberry Pi's header: /dev/i2c-1).</summary>
    public int I2cBusId { get; init; } = 1;

    /// <summary>The IMU; null for a robot without one (the cart-pole rail).</summary>
    public Mpu6050Options? Imu { get; init; }

    /// <summary>A BNO055 IMU instead of the MPU-6050 (<see cref="Imu"/> is then null).</summary>
    public Bno055Options? Bno055 { get; init; }

    /// <summary>A PCA9685 for motor PWM; null when every motor uses the Pi's hardware PWM.</summary>
    public Pca9685Options? Pca9685 { get; init; }

    /// <summary>An INA219 battery monitor on the same bus; null for a robot without one.</summary>
    public Ina219Options? Battery { get; init; }

    /// <summary>Reads between battery-voltage reads (the voltage changes slowly; each read is one bus transfer).</summary>
    public int BatteryReadEveryReads { get; init; } = 1;

    public IReadOnlyList<MotorWiring> Motors { get; init; } = [];

    public IReadOnlyList<EncoderWiring> Encoders { get; init; } = [];

    /// <summary>Reads between PCA9685 MODE1/PRE_SCALE read-backs (brown-out detection); 0: never.</summary>
    public int Pca9685CheckEveryReads { get; init; }

    /// <summary>Sample period the gyro calibration waits between reads.</summary>
    public TimeSpan CalibrationSamplePeriod { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// A two-wheeled balancing robot: MPU-6050 at 0x68, PCA9685 at 0x40 with channels 0 and 1 as
    /// the two bridges' PWM, IN1/IN2 on GPIO 5/6 and 16/26 (away from the hardware-PWM pins 12/13/18/19), encoders on GPIO 17/27 and 22/23.
    /// </summary>
    public static DriverRobotIoOptions BalanceBot(int countsPerRevolution = 1320) => new()
    {
        Imu = new Mpu6050Options(),
        Pca9685 = new Pca9685Options(),
        Motors =
        [
            new MotorWiring { Pwm = new PwmSource.Pca9685Channel(0), DirectionPin1 = 5, DirectionPin2 = 6 },
            new MotorWiring { Pwm = new PwmSource.Pca9685Channel(1), DirectionPin1 = 16, DirectionPin2 = 26, Motor = new HBridgeMotorOptions { Inverted = true } },
        ],
        Encoders =
        [
            new EncoderWiring { PinA = 17, PinB = 27, Encoder = new QuadratureEncoderOptions { CountsPerRevolution = countsPerRevolution } },
            new EncoderWiring { PinA = 22, PinB = 23, Encoder = new QuadratureEncoderOptions { CountsPerRevolution = countsPerRevolution, Inverted = true } },
        ],
    };
}

/// <summary>Where a motor's PWM comes from.</summary>
public abstract record PwmSource
{
    private PwmSource() { }

    /// <summary>A channel (0–15) of the robot's PCA9685.</summary>
    public sealed record Pca9685Channel(int Channel) : PwmSource;

    /// <summary>The Pi's hardware PWM (pwmchip <paramref name="Chip"/>, channel <paramref name="Channel"/>) at a frequency.</summary>
    public sealed record Hardware(int Chip, int Channel, int FrequencyHz) : PwmSource;
}

/// <summary>One motor's H-bridge: PWM source and direction pin(s).</summary>
public sealed record MotorWiring
{
    public required PwmSource Pwm { get; init; }

    /// <summary>IN1, or the single direction pin when <see cref="DirectionPin2"/> is null.</summary>
    public required int DirectionPin1 { get; init; }

    /// <summary>IN2 of a two-pin bridge; null for a direction-and-PWM bridge.</summary>
    public int? DirectionPin2 { get; init; }

    public HBridgeMotorOptions Motor { get; init; } = new();
}

/// <summary>One encoder's channel pins and decoding settings.</summary>
public sealed record EncoderWiring
{
    public required int PinA { get; init; }

    public required int PinB { get; init; }

    public QuadratureEncoderOptions Encoder { get; init; } = new();
}
