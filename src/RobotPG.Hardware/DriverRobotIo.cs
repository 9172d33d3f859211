using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;

namespace RobotPG.Hardware;

/// <summary>
/// <see cref="IRobotIo"/> made of the drivers: an <see cref="Mpu6050"/>, H-bridge motors on a
/// <see cref="Pca9685"/> or hardware PWM, and <see cref="QuadratureEncoder"/>s, all opened through an
/// <see cref="IRobotBus"/> — so the same class runs on the Pi and against the simulator.
/// Construction initialises every chip and calibrates the gyro (the robot must stand still);
/// <see cref="Read"/> and <see cref="Drive"/> allocate nothing.
/// </summary>
public sealed class DriverRobotIo : IRobotIo
{
    private readonly IRobotBus _bus;
    private readonly GpioController _gpio;
    private readonly I2cDevice? _imuDevice;
    private readonly I2cDevice? _pwmDevice;
    private readonly I2cDevice? _batteryDevice;
    private readonly Ina219? _battery;
    private int _readsSinceBattery = int.MaxValue - 1;
    private float _batteryVolts = float.NaN;
    private readonly Mpu6050? _imu;
    private readonly Bno055Imu? _bno055;
    private readonly Pca9685? _pca;
    private readonly HBridgeMotor[] _motors;
    private readonly PwmChannel[] _pwmChannels;
    private readonly QuadratureEncoder[] _encoders;
    private bool _disposed;
    private int _readsSinceCheck;
    private long _lastSequence = long.MinValue;

    public DriverRobotIo(DriverRobotIoOptions options, IRobotBus bus)
    {
        ArgumentNullException.ThrowIfNull(options);
        _bus = bus ?? throw new ArgumentNullException(nameof(bus));
        Options = options;
        _motors = new HBridgeMotor[options.Motors.Count];
        _pwmChannels = new PwmChannel[options.Motors.Count];
        _encoders = new QuadratureEncoder[options.Encoders.Count];
        _gpio = bus.CreateGpioController();
        try
        {
            if (options.Pca9685 is { } pcaOptions)
            {
                _pwmDevice = bus.CreateI2cDevice(new I2cConnectionSettings(options.I2cBusId, pcaOptions.Address));
                _pca = new Pca9685(_pwmDevice, pcaOptions);
                _pca.Initialize();
            }
            for (int i = 0; i < _motors.Length; i++)
            {
                MotorWiring wiring = options.Motors[i];
                _pwmChannels[i] = wiring.Pwm switch
                {
                    PwmSource.Pca9685Channel c => new Pca9685PwmChannel(
                        _pca ?? throw new ArgumentException($"motor {i} uses PCA9685 channel {c.Channel} but no PCA9685 is configured", nameof(options)),
                        c.Channel),
                    PwmSource.Hardware h => bus.CreatePwmChannel(h.Chip, h.Channel, h.FrequencyHz, 0.0),
                    _ => throw new ArgumentException($"motor {i} has no PWM source", nameof(options)),
                };
                _motors[i] = wiring.DirectionPin2 is int in2
                    ? HBridgeMotor.WithDirectionPins(_gpio, wiring.DirectionPin1, in2, _pwmChannels[i], wiring.Motor)
                    : HBridgeMotor.WithDirectionPin(_gpio, wiring.DirectionPin1, _pwmChannels[i], wiring.Motor);
            }
            _bus.CommitWrites();
            for (int i = 0; i < _encoders.Length; i++)
                _encoders[i] = new QuadratureEncoder(_gpio, options.Encoders[i].PinA, options.Encoders[i].PinB, options.Encoders[i].Encoder);
            if (options.Battery is { } batteryOptions)
            {
                _batteryDevice = bus.CreateI2cDevice(new I2cConnectionSettings(options.I2cBusId, batteryOptions.Address));
                _battery = new Ina219(_batteryDevice, batteryOptions);
                _battery.Initialize();
            }
            if (options.Bno055 is { } bnoOptions)
            {
                if (options.Imu is not null) throw new ArgumentException("a robot has one IMU: set Imu (MPU-6050) or Bno055, not both", nameof(options));
                _imuDevice = bus.CreateI2cDevice(new I2cConnectionSettings(options.I2cBusId, bnoOptions.Address));
                // The BNO055 calibrates its gyro itself in fusion mode: no bias averaging here.
                _bno055 = new Bno055Imu(_imuDevice, bnoOptions);
                _bno055.Initialize();
            }
            if (options.Imu is { } imuOptions)
            {
                _imuDevice = bus.CreateI2cDevice(new I2cConnectionSettings(options.I2cBusId, imuOptions.Address));
                _imu = new Mpu6050(_imuDevice, imuOptions);
                _imu.Initialize();
                TimeSpan period = options.CalibrationSamplePeriod;
                _imu.CalibrateGyroBias(() => _bus.AwaitFreshData(period));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DriverRobotIoOptions Options { get; }

    public int MotorCount => _motors.Length;

    public int EncoderCount => _encoders.Length;

    /// <summary>The IMU driver, null on a robot without one.</summary>
    public Mpu6050? Imu => _imu;

    /// <summary>The BNO055 IMU driver, null unless the robot has one.</summary>
    public Bno055Imu? Bno055 => _bno055;

    public Pca9685? Pca9685 => _pca;

    /// <summary>The battery monitor, null on a robot without one.</summary>
    public Ina219? Battery => _battery;

    public ReadOnlySpan<HBridgeMotor> Motors => _motors;

    public ReadOnlySpan<QuadratureEncoder> Encoders => _encoders;

    public void Read(SensorFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (frame.EncoderTicks.Length != _encoders.Length)
            throw new ArgumentException($"the frame holds {frame.EncoderTicks.Length} encoders, the robot has {_encoders.Length}", nameof(frame));
        _bus.BeginRead(out long timestamp, out long sequence);
        if (_pca is not null && Options.Pca9685CheckEveryReads > 0 && ++_readsSinceCheck >= Options.Pca9685CheckEveryReads)
        {
            // A brown-out or NACK is a bus fault of this read: the supervisor retries, then trips. The count
            // restarts only after a good read-back, so each retry checks again instead of skipping the check.
            _pca.VerifyConfiguration();
            _readsSinceCheck = 0;
        }
        _imu?.Read(frame);
        _bno055?.Read(frame);
        if (_imu is not null || _bno055 is not null)
        {
            // Freshness from the data itself, on every bus: a Pi's read always succeeds on a frozen or
            // reset chip, and a simulator's new frame can carry a frozen chip's registers. A read is new
            // data only when the burst changed; otherwise the sequence stands still and the
            // stale-sensor rule counts it.
            if (!(_imu?.LastReadChanged ?? _bno055!.LastReadChanged)) sequence = _lastSequence;
            _lastSequence = sequence;
        }
        if (_battery is not null && ++_readsSinceBattery >= Options.BatteryReadEveryReads)
        {
            _batteryVolts = _battery.ReadBusVolts();
            _readsSinceBattery = 0;
        }
        frame.BatteryVolts = _batteryVolts;
        for (int i = 0; i < _encoders.Length; i++)
        {
            frame.EncoderTicks[i] = _encoders[i].Count;
            frame.EncoderVelocity[i] = (float)_encoders[i].SampleVelocity(timestamp);
        }
        frame.Timestamp = timestamp;
        frame.Sequence = sequence;
    }

    public void Drive(ReadOnlySpan<float> commands)
    {
        if (commands.Length != _motors.Length)
            throw new ArgumentException($"{commands.Length} motor commands for {_motors.Length} motors", nameof(commands));
        for (int i = 0; i < _motors.Length; i++) _motors[i].Drive(commands[i]);
        _bus.CommitWrites();
    }

    /// <summary>Bus operations that failed inside <see cref="StopMotors"/> (which must not throw, so it counts them).</summary>
    public long StopMotorsFailures { get; private set; }

    /// <summary>The last failure counted in <see cref="StopMotorsFailures"/>, for the one line that reports it.</summary>
    public Exception? LastStopMotorsFailure { get; private set; }

    public void StopMotors()
    {
        // Each motor on its own: one failing bridge must not keep the others running.
        for (int i = 0; i < _motors.Length; i++)
        {
            try { _motors[i]?.Coast(); }
            catch (Exception e) { CountStopFailure(e); }
        }
        if (_pca is not null)
        {
            // Belt and braces: every PWM output off in one transfer, even if a channel write failed above.
            try { _pca.AllOff(); }
            catch (Exception e) { CountStopFailure(e); }
        }
        try { _bus.CommitWrites(); }
        catch (Exception e) { CountStopFailure(e); }
    }

    private void CountStopFailure(Exception e)
    {
        StopMotorsFailures++;
        LastStopMotorsFailure = e;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        StopMotors();
        // Never throws: every resource is released even when one of them fails (the motors-off
        // failures are already counted in StopMotorsFailures).
        foreach (var encoder in _encoders) Release(encoder);
        foreach (var motor in _motors) Release(motor);
        foreach (var channel in _pwmChannels) Release(channel);
        Release(_imu);
        Release(_bno055);
        Release(_pca);
        Release(_imuDevice);
        Release(_pwmDevice);
        Release(_battery);
        Release(_batteryDevice);
        Release(_gpio);
    }

    private void Release(IDisposable? resource)
    {
        try { resource?.Dispose(); }
        catch (Exception) { StopMotorsFailures++; }
    }
}
