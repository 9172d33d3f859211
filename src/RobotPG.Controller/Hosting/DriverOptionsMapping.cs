using RobotPG.Controller.Configuration;
using RobotPG.Hardware;
using ConfigPwmSource = RobotPG.Controller.Configuration.PwmSource;

namespace RobotPG.Controller.Hosting;

/// <summary>Turns a validated robot config into the drivers' wiring options.</summary>
public static class DriverOptionsMapping
{
    public static DriverRobotIoOptions ToDriverOptions(RobotConfig c)
    {
        var motors = new MotorWiring[c.Motors.Length];
        for (int i = 0; i < motors.Length; i++)
        {
            var m = c.Motors[i];
            RobotPG.Hardware.PwmSource pwm = m.PwmSource == ConfigPwmSource.Pca9685
                ? new RobotPG.Hardware.PwmSource.Pca9685Channel(m.PwmChannel)
                : new RobotPG.Hardware.PwmSource.Hardware(c.HardwarePwm!.Chip, m.PwmChannel, (int)Math.Round(c.HardwarePwm.FrequencyHz));
            motors[i] = new MotorWiring
            {
                Pwm = pwm,
                DirectionPin1 = m.In1Pin,
                DirectionPin2 = m.In2Pin,
                Motor = new HBridgeMotorOptions { Inverted = m.Inverted },
            };
        }
        var encoders = new EncoderWiring[c.Encoders.Length];
        for (int i = 0; i < encoders.Length; i++)
        {
            var e = c.Encoders[i];
            encoders[i] = new EncoderWiring
            {
                PinA = e.PinA,
                PinB = e.PinB,
                Encoder = new QuadratureEncoderOptions { CountsPerRevolution = e.CountsPerRevolution, Inverted = e.Inverted },
            };
        }
        return new DriverRobotIoOptions
        {
            I2cBusId = c.Bus.I2cBusId,
            Bno055 = c.Imu is { Kind: ImuKind.Bno055 } bno ? new Bno055Options { Address = bno.Address } : null,
            Imu = c.Imu is { Kind: ImuKind.Mpu6050 } imu
                ? new Mpu6050Options
                {
                    Address = imu.Address,
                    AccelRange = AccelRange(imu.AccelRangeG),
                    GyroRange = GyroRange(imu.GyroRangeDps),
                    GyroCalibrationSamples = imu.CalibrationSamples,
                }
                : null,
            Pca9685 = c.Pca9685 is { } pca ? new Pca9685Options { Address = pca.Address, FrequencyHz = pca.FrequencyHz } : null,
            Battery = c.Battery is { } battery ? new Ina219Options { Address = battery.Ina219Address, ShuntOhms = battery.ShuntOhms } : null,
            // About 20 battery reads a second: the voltage moves slowly, and each read is a bus transfer in the step.
            BatteryReadEveryReads = Math.Max(1, (int)(c.ControlRateHz / 20)),
            Motors = motors,
            Encoders = encoders,
        };
    }

    private static Mpu6050AccelRange AccelRange(int g) => g switch
    {
        2 => Mpu6050AccelRange.PlusMinus2G,
        4 => Mpu6050AccelRange.PlusMinus4G,
        8 => Mpu6050AccelRange.PlusMinus8G,
        16 => Mpu6050AccelRange.PlusMinus16G,
        _ => throw new ArgumentOutOfRangeException(nameof(g), g, "accelerometer range must be 2, 4, 8 or 16 g"),
    };

    private static Mpu6050GyroRange GyroRange(int dps) => dps switch
    {
        250 => Mpu6050GyroRange.PlusMinus250DegreesPerSecond,
        500 => Mpu6050GyroRange.PlusMinus500DegreesPerSecond,
        1000 => Mpu6050GyroRange.PlusMinus1000DegreesPerSecond,
        2000 => Mpu6050GyroRange.PlusMinus2000DegreesPerSecond,
        _ => throw new ArgumentOutOfRangeException(nameof(dps), dps, "gyro range must be 250, 500, 1000 or 2000 °/s"),
    };
}
