using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using System.Diagnostics;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.SelfTest;
using RobotPG.Hardware;

namespace RobotPG.Controller.Hosting;

/// <summary>
/// A rehearsal of the service on any machine, switched on by <c>ROBOTPG_DRY_RUN=DIR</c> in the
/// environment (so the unit's own command lines run unchanged): <c>robotpg run</c> and <c>robotpg
/// motors-off</c> do all they do on the robot — config checks, the chips' start-up through the real
/// drivers, control steps, log, learner — against register-level fakes of the MPU-6050 and PCA9685 and
/// a GPIO fake, touching no pin. Absolute state paths (log and checkpoint directories) are placed under
/// DIR; <c>run</c> stops after <see cref="Periods"/> control periods and reports its first control step.
/// </summary>
public sealed class DryRun
{
    public const string EnvironmentVariable = "ROBOTPG_DRY_RUN";

    /// <summary>Control periods a dry <c>run</c> lasts.</summary>
    public const int Periods = 10;

    public DryRun(string stateRoot) => StateRoot = Path.GetFullPath(stateRoot);

    /// <summary>Where absolute state paths of the config go instead of /.</summary>
    public string StateRoot { get; }

    /// <summary>The dry run the environment asks for, or null (the real robot).</summary>
    public static DryRun? FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } root ? new DryRun(root) : null;

    /// <summary>An absolute path re-rooted under <see cref="StateRoot"/>; a relative one as it is.</summary>
    public string StatePath(string path) => Path.IsPathRooted(path) ? Path.Join(StateRoot, path) : path;
}

/// <summary>
/// The Pi's buses for a <see cref="DryRun"/>: the config's MPU-6050 and PCA9685 as register files (the
/// IMU reads a robot standing upright, with one LSB of dither so every sample differs as a live chip's
/// noise does), GPIO and hardware PWM as recorded levels. Nothing here touches a device file.
/// </summary>
public sealed class DryRunRobotBus : IRobotBus
{
    private readonly RobotConfig _config;
    private readonly DryRunGpioDriver _gpio = new();
    private long _sequence;

    public DryRunRobotBus(RobotConfig config)
    {
        _config = config ?? throw new ArgumentNullException(nameof(config));
        if (config.Imu is { } imu) Imu = new Mpu6050RegisterFake(config.Bus.I2cBusId, imu.Address);
        if (config.Pca9685 is { } pca) Pca9685 = new Pca9685RegisterFake(config.Bus.I2cBusId, pca.Address);
        Sample();
    }

    public Mpu6050RegisterFake? Imu { get; }

    public Pca9685RegisterFake? Pca9685 { get; }

    /// <summary>The level last written to a GPIO (false when never written).</summary>
    public bool PinHigh(int pin) => _gpio.Level(pin);

    public I2cDevice CreateI2cDevice(I2cConnectionSettings settings)
    {
        // The same register file for every handle, as one chip on the bus; disposing a handle leaves it.
        if (Imu is not null && settings.DeviceAddress == Imu.ConnectionSettings.DeviceAddress) return new Handle(Imu);
        if (Pca9685 is not null && settings.DeviceAddress == Pca9685.ConnectionSettings.DeviceAddress) return new Handle(Pca9685);
        throw new IOException($"dry run: no chip at I2C address 0x{settings.DeviceAddress:X2} in the config");
    }

    public GpioController CreateGpioController() => new(_gpio);

    public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle) => new RecordedPwmChannel(frequencyHz, dutyCycle);

    public void BeginRead(out long timestamp, out long sequence)
    {
        Sample();
        timestamp = Stopwatch.GetTimestamp();
        sequence = _sequence;
    }

    public void CommitWrites()
    {
    }

    public void AwaitFreshData(TimeSpan samplePeriod) => Sample();

    /// <summary>A new IMU sample: 1 g along the configured up axis, ±1 LSB of dither on every word.</summary>
    private void Sample()
    {
        _sequence++;
        if (Imu is null || _config.Imu is not { } imu) return;
        int lsbPerG = 16384 >> ((Imu[0x1C] >> 3) & 3); // ACCEL_CONFIG range as the driver set it
        short dither = (short)((_sequence & 1) == 0 ? 1 : -1);
        Span<short> accel = [dither, dither, dither];
        int up = imu.Mounting.Up switch { ImuAxis.PlusX or ImuAxis.MinusX => 0, ImuAxis.PlusY or ImuAxis.MinusY => 1, _ => 2 };
        int sign = imu.Mounting.Up is ImuAxis.MinusX or ImuAxis.MinusY or ImuAxis.MinusZ ? -1 : 1;
        accel[up] = (short)(sign * lsbPerG + dither);
        short temperature = (short)((25.0 - 36.53) * 340); // 25 °C
        Imu.SetSample(accel[0], accel[1], accel[2], temperature, dither, dither, dither);
    }

    /// <summary>One chip's register file behind a handle the drivers may dispose.</summary>
    private sealed class Handle(RegisterFileI2cDevice chip) : I2cDevice
    {
        public override I2cConnectionSettings ConnectionSettings => chip.ConnectionSettings;

        public override void Read(Span<byte> buffer) => chip.Read(buffer);

        public override void Write(ReadOnlySpan<byte> buffer) => chip.Write(buffer);

        public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer) => chip.WriteRead(writeBuffer, readBuffer);

        public override byte ReadByte() => chip.ReadByte();

        public override void WriteByte(byte value) => chip.WriteByte(value);
    }

    private sealed class RecordedPwmChannel(int frequency, double dutyCycle) : PwmChannel
    {
        public override int Frequency { get; set; } = frequency;

        public override double DutyCycle { get; set; } = dutyCycle;

        public override void Start()
        {
        }

        public override void Stop()
        {
        }
    }

    /// <summary>The Pi's 28 header GPIOs as recorded levels; inputs read low and raise no edges.</summary>
    private sealed class DryRunGpioDriver : GpioDriver
    {
        private const int Pins = 28;
        private readonly bool[] _levels = new bool[Pins];
        private readonly PinMode[] _modes = new PinMode[Pins];

        public bool Level(int pin) => _levels[Check(pin)];

        protected override int PinCount => Pins;

        protected override void OpenPin(int pinNumber) => Check(pinNumber);

        protected override void ClosePin(int pinNumber) => Check(pinNumber);

        protected override void SetPinMode(int pinNumber, PinMode mode) => _modes[Check(pinNumber)] = mode;

        protected override PinMode GetPinMode(int pinNumber) => _modes[Check(pinNumber)];

        protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;

        protected override PinValue Read(int pinNumber) => _levels[Check(pinNumber)] ? PinValue.High : PinValue.Low;

        protected override void Write(int pinNumber, PinValue value) => _levels[Check(pinNumber)] = value == PinValue.High;

        protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
        {
            cancellationToken.WaitHandle.WaitOne();
            return new WaitForEventResult { TimedOut = true, EventTypes = PinEventTypes.None };
        }

        protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) => Check(pinNumber);

        protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) => Check(pinNumber);

        private static int Check(int pin) =>
            (uint)pin < Pins ? pin : throw new ArgumentOutOfRangeException(nameof(pin), pin, $"the Pi's header has GPIO 0–{Pins - 1}");
    }
}
