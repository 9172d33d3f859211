using RobotPG.Messaging;
using RobotPG.Numerics;
using RobotPG.Sim.Devices;

namespace RobotPG.Sim.Robots;

/// <summary>The shaft an encoder is on.</summary>
public enum EncoderShaft
{
    /// <summary>Left wheel relative to the body (the encoder sits on the motor).</summary>
    LeftWheel,
    RightWheel,
    /// <summary>The cart's belt pulley.</summary>
    Cart,
    /// <summary>The pole's pivot (absolute: the rail does not rotate).</summary>
    Pole,
}

/// <summary>
/// A simulated robot with its chips attached: physics integrated in substeps per control tick, the
/// emulated MPU-6050 fed from the body's motion, motors driven from the PCA9685 duties (or hardware
/// PWM) and the H-bridge pins, encoder counts from the shaft angles. The simulator's MQTT peer and
/// in-process users drive it through <see cref="ApplyActuators"/>, <see cref="Advance"/>,
/// <see cref="FillSensorFrame"/>. Not thread-safe; nothing on the per-tick path allocates.
/// </summary>
public abstract class SimulatedRobot
{
    public const int PinCount = 64;

    private readonly bool[] _pinLevels = new bool[PinCount];
    private readonly long[] _encoderCounts;
    private readonly EncoderShaft[] _encoderShafts;
    private readonly bool[] _motorOnPca9685;
    private readonly IRegisterDevice?[] _devicesByAddress = new IRegisterDevice?[128];
    private readonly ulong _seed;
    protected Prng Random;

    // Injected faults (robotpg-sim serve --fault): evaluated once per actuator frame.
    private SimFault[] _faults = [];
    private bool[] _faultFired = [];
    private readonly bool[] _nacking = new bool[128];
    private readonly bool[] _pinStuck = new bool[PinCount];
    private bool _imuFrozen;
    private Prng _faultRandom;
    private long _actuatorFramesApplied;

    protected SimulatedRobot(RobotPhysicsConfig config, ulong seed)
    {
        Config = config;
        ImuTiltRad = MountingTiltRad;
        _seed = seed;
        Random = new Prng(seed);
        Substeps = Math.Max(1, (int)Math.Round(config.PhysicsRateHz / config.ControlRateHz));
        ControlPeriod = 1.0 / config.ControlRateHz;
        PhysicsStep = ControlPeriod / Substeps;
        _encoderCounts = new long[config.Encoders.Length];
        _encoderShafts = new EncoderShaft[config.Encoders.Length];
        for (int e = 0; e < _encoderShafts.Length; e++)
        {
            _encoderShafts[e] = config.Encoders[e].Measures switch
            {
                "left-wheel" => EncoderShaft.LeftWheel,
                "right-wheel" => EncoderShaft.RightWheel,
                "cart" => EncoderShaft.Cart,
                "pole" => EncoderShaft.Pole,
                _ => throw new RobotPhysicsConfigException($"encoders[{e}].measures: '{config.Encoders[e].Measures}' is not a shaft"),
            };
        }
        _faultRandom = new Prng(seed ^ 0x5EED_FA17_0000_0001UL);
        _motorOnPca9685 = new bool[config.Motors.Length];
        for (int m = 0; m < _motorOnPca9685.Length; m++) _motorOnPca9685[m] = config.Motors[m].PwmSource == "pca9685";
        if (config.Imu is not null)
        {
            Imu = new Mpu6050Emulator(config.Imu.Address, seed ^ 0x1A2B3C4D5E6F7081UL);
            Mounting = ImuMounting.TryCreate(config.Imu.Forward, config.Imu.Up, out var mounting) is null ? mounting : ImuMounting.Default;
            _devicesByAddress[Imu.Address] = Imu;
        }
        if (config.Pca9685Address is int pcaAddress)
        {
            Pca9685 = new Pca9685Emulator(pcaAddress);
            _devicesByAddress[pcaAddress] = Pca9685;
        }
        HardwarePwm = [new EmulatedPwmChannel(0, 0, 1000, 0), new EmulatedPwmChannel(0, 1, 1000, 0)];
    }

    public RobotPhysicsConfig Config { get; }

    public string Name => Config.Robot;

    /// <summary>RK4 steps per control tick.</summary>
    public int Substeps { get; }

    public double ControlPeriod { get; }

    public double PhysicsStep { get; }

    /// <summary>Control ticks since the last reset.</summary>
    public ulong Tick { get; protected set; }

    public abstract double SimTime { get; }

    /// <summary>Past the tilt limit (or off the rail): the physics is frozen until reset.</summary>
    public bool Fallen { get; protected set; }

    public Mpu6050Emulator? Imu { get; }

    public Pca9685Emulator? Pca9685 { get; }

    public EmulatedPwmChannel[] HardwarePwm { get; }

    protected ImuMounting Mounting { get; }

    /// <summary>I2C writes in actuator frames to an address with no emulated chip (ignored, like a NACK).</summary>
    public long UnknownAddressWrites { get; private set; }

    public long Resets { get; private set; }

    /// <summary>I2C writes in actuator frames dropped because their chip was not acknowledging (an injected NACK).</summary>
    public long NackedWrites { get; private set; }

    /// <summary>Injected PCA9685 brown-outs that happened.</summary>
    public long Brownouts { get; private set; }

    /// <summary>Pin writes in actuator frames lost on a dead GPIO line (an injected fault).</summary>
    public long LostPinWrites { get; private set; }

    /// <summary>Whether the chip at <paramref name="address"/> is currently not acknowledging (an injected fault).</summary>
    public bool IsNacking(int address) => (uint)address < 128 && _nacking[address];

    /// <summary>Switches these faults on (each from its own actuator frame count); replaces earlier ones.</summary>
    public void SetFaults(IReadOnlyList<SimFault> faults)
    {
        _faults = [.. faults];
        _faultFired = new bool[_faults.Length];
        Array.Clear(_nacking);
        Array.Clear(_pinStuck);
        _imuFrozen = false;
        EvaluateFaults();
    }

    private void EvaluateFaults()
    {
        if (_faults.Length == 0) return;
        Array.Clear(_nacking);
        Array.Clear(_pinStuck);
        _imuFrozen = false;
        long frame = _actuatorFramesApplied;
        for (int f = 0; f < _faults.Length; f++)
        {
            var fault = _faults[f];
            if (frame < fault.FromFrame) continue;
            switch (fault.Kind)
            {
                case SimFaultKind.I2cNack:
                    bool on = fault.Mode switch
                    {
                        SimNackMode.Permanent => true,
                        SimNackMode.Once => frame == fault.FromFrame,
                        _ => _faultRandom.NextDouble() < fault.Probability,
                    };
                    _nacking[fault.Address] |= on;
                    break;
                case SimFaultKind.ImuFrozen:
                    _imuFrozen = true;
                    break;
                case SimFaultKind.PcaBrownout:
                    if (_faultFired[f] || Pca9685 is null) break;
                    _faultFired[f] = true;
                    Pca9685.PowerOnReset();
                    Brownouts++;
                    break;
                case SimFaultKind.GpioWriteFail:
                    _pinStuck[fault.Pin] = true;
                    break;
            }
        }
    }

    /// <summary>Multipliers currently applied to the nominal parameters by <see cref="Randomize"/>.</summary>
    public double MassFactor { get; private set; } = 1;

    public double FrictionFactor { get; private set; } = 1;

    public double TorqueConstantFactor { get; private set; } = 1;

    public double ResistanceFactor { get; private set; } = 1;

    /// <summary>The motors' deadband duty drawn by <see cref="Randomize"/> (null: the configured one).</summary>
    public double? DeadbandDuty { get; private set; }

    /// <summary>Forward tilt of the IMU on the body, rad (a level body reads this pitch): the configured mounting tilt plus the one drawn by <see cref="Randomize"/>.</summary>
    public double ImuTiltRad { get; private set; }

    private double MountingTiltRad => (Config.Imu?.TiltDeg ?? 0) * Math.PI / 180.0;

    /// <summary>Scales the IMU's configured noise (0 = a perfect sensor).</summary>
    public double SensorNoiseScale { get; set; } = 1.0;

    public bool PinLevel(int pin) => _pinLevels[pin];

    public void SetPinLevel(int pin, bool high) => _pinLevels[pin] = high;

    public ReadOnlySpan<long> EncoderCounts => _encoderCounts;

    /// <summary>The emulated chip at a 7-bit address, or null.</summary>
    public IRegisterDevice? DeviceAt(int address) => (uint)address < 128 ? _devicesByAddress[address] : null;

    /// <summary>Replays the controller's bus activity of one control step on the chips and pins.</summary>
    public void ApplyActuators(SimActuatorFrame frame)
    {
        EvaluateFaults();
        _actuatorFramesApplied++;
        LastAppliedActuatorSequence = frame.Sequence;
        for (int i = 0; i < frame.I2cWriteCount; i++)
        {
            int address = frame.I2cWriteAddress(i);
            var device = DeviceAt(address);
            if (device is null) UnknownAddressWrites++;
            else if (_nacking[address]) NackedWrites++;
            else device.Write(frame.I2cWriteData(i));
        }
        for (int i = 0; i < frame.PinLevelCount; i++)
        {
            int pin = frame.PinNumber(i);
            if (_pinStuck[pin]) LostPinWrites++;
            else _pinLevels[pin] = frame.PinHigh(i);
        }
        for (int i = 0; i < frame.PwmCount; i++)
        {
            var setting = frame.Pwm(i);
            if (setting.Chip != 0 || setting.Channel >= HardwarePwm.Length) continue;
            var channel = HardwarePwm[setting.Channel];
            channel.Frequency = (int)setting.FrequencyHz;
            channel.DutyCycle = setting.DutyCycle;
            if (setting.Running) channel.Start();
            else channel.Stop();
        }
    }

    /// <summary>The sequence of the last actuator frame applied (0: none): each sensor frame echoes it.</summary>
    public ulong LastAppliedActuatorSequence { get; private set; }

    /// <summary>Bridge state and duty a motor sees from its pins and its PWM source (mirror-mounting applied).</summary>
    protected BridgeState MotorInput(int motor, out double duty)
    {
        var w = Config.Motors[motor];
        duty = _motorOnPca9685[motor] ? Pca9685!.DutyCycle(w.PwmChannel) : HardwarePwm[w.PwmChannel].OutputDuty;
        bool in1 = _pinLevels[w.In1Pin], in2 = _pinLevels[w.In2Pin];
        var state = (in1, in2) switch
        {
            (true, false) => BridgeState.Forward,
            (false, true) => BridgeState.Reverse,
            (true, true) => BridgeState.Brake,
            _ => BridgeState.Coast,
        };
        if (w.Mirrored && state == BridgeState.Forward) return BridgeState.Reverse;
        if (w.Mirrored && state == BridgeState.Reverse) return BridgeState.Forward;
        return state;
    }

    /// <summary>Runs one control tick of physics (unless fallen) and refreshes every sensor.</summary>
    public void Advance()
    {
        if (!Fallen)
        {
            ReadMotorInputs();
            for (int s = 0; s < Substeps; s++) StepPhysics(PhysicsStep);
            Fallen = CheckFallen();
            if (Fallen) Freeze();
        }
        else
        {
            AdvanceFrozenTime(ControlPeriod);
        }
        Tick++;
        UpdateSensors();
    }

    /// <summary>Puts the robot back near upright with the seed's next draw; chips keep their configuration (no power cycle).</summary>
    public void Reset(ulong? seed = null)
    {
        if (seed is ulong s) Random = new Prng(s);
        Fallen = false;
        Tick = 0;
        Resets++;
        ResetPhysics(ref Random);
        UpdateSensors();
    }

    /// <summary>Draws new physical parameters within the configured ranges × <paramref name="scale"/>, then resets.</summary>
    public void Randomize(ulong? seed = null, double scale = 1.0)
    {
        if (seed is ulong s) Random = new Prng(s);
        var r = Config.Randomization;
        MassFactor = 1 + scale * Random.NextUniform(-r.Mass, r.Mass);
        FrictionFactor = Math.Max(0, 1 + scale * Random.NextUniform(-r.Friction, r.Friction));
        TorqueConstantFactor = 1 + scale * Random.NextUniform(-r.Motor, r.Motor);
        ResistanceFactor = 1 + scale * Random.NextUniform(-r.Motor, r.Motor);
        // The wide ranges draw only when configured, so the stream of a plain config is unchanged.
        if (r.MassScale is [double massLow, double massHigh]) MassFactor = 1 + scale * (Random.NextUniform(massLow, massHigh) - 1);
        if (r.TorqueScale is [double torqueLow, double torqueHigh]) TorqueConstantFactor = 1 + scale * (Random.NextUniform(torqueLow, torqueHigh) - 1);
        if (r.DeadbandDuty is [double deadbandLow, double deadbandHigh]) DeadbandDuty = Random.NextUniform(deadbandLow, deadbandHigh);
        if (r.ImuTiltDeg > 0) ImuTiltRad = MountingTiltRad + scale * Random.NextUniform(-r.ImuTiltDeg, r.ImuTiltDeg) * Math.PI / 180.0;
        ApplyParameterFactors();
        Reset();
    }

    /// <summary>Writes tick, time, the last applied actuator frame, the pin levels, every chip's register file and every encoder count.</summary>
    public void FillSensorFrame(SimSensorFrame frame)
    {
        // A chip that does not acknowledge is left out: the controller's read of it then fails as on a NACK.
        bool imu = Imu is not null && !_nacking[Imu.Address];
        bool pca = Pca9685 is not null && !_nacking[Pca9685.Address];
        frame.SetShape((imu ? 1 : 0) + (pca ? 1 : 0), _encoderCounts.Length);
        int slot = 0;
        if (imu) frame.SetDevice(slot++, Imu!.Address, Imu.RegisterImage);
        if (pca) frame.SetDevice(slot, Pca9685!.Address, Pca9685.RegisterImage);
        _encoderCounts.CopyTo(frame.EncoderCounts);
        frame.Sequence = Tick;
        frame.SimTime = SimTime;
        frame.AppliedActuatorSequence = LastAppliedActuatorSequence;
        ulong levels = 0;
        for (int pin = 0; pin < PinCount; pin++)
            if (_pinLevels[pin]) levels |= 1UL << pin;
        frame.PinLevels = levels;
    }

    public abstract void FillTruth(GroundTruthFrame frame);

    /// <summary>Recomputes encoder counts and the IMU registers from the current physical state.</summary>
    public void UpdateSensors()
    {
        for (int e = 0; e < _encoderCounts.Length; e++)
        {
            var w = Config.Encoders[e];
            long count = (long)Math.Floor(ShaftAngle(_encoderShafts[e]) / (2 * Math.PI) * w.CountsPerRevolution);
            _encoderCounts[e] = w.Mirrored ? -count : count;
        }
        if (Imu is not null && Config.Imu is { } imu && !_imuFrozen)
        {
            double n = SensorNoiseScale;
            var nominal = Imu.Imperfections;
            Imu.Imperfections = nominal with { AccelNoiseStd = imu.AccelNoiseStd * n, GyroNoiseStd = imu.GyroNoiseStd * n };
            BodyMotion(out double fF, out double fL, out double fU, out double wF, out double wL, out double wU);
            if (ImuTiltRad != 0)
            {
                // The chip pitched forward by the tilt about the body's left axis: body vectors seen in its axes.
                double c = Math.Cos(ImuTiltRad), sn = Math.Sin(ImuTiltRad);
                (fF, fU) = (c * fF - sn * fU, sn * fF + c * fU);
                (wF, wU) = (c * wF - sn * wU, sn * wF + c * wU);
            }
            var (ax, ay, az) = Mounting.ToImu(fF, fL, fU);
            var (gx, gy, gz) = Mounting.ToImu(wF, wL, wU);
            Imu.SetMotion(ax, ay, az, gx, gy, gz, imu.TemperatureC);
        }
    }

    /// <summary>Draws the per-seed IMU biases (called by subclasses at construction and reset with the robot's stream).</summary>
    protected void DrawImuBiases(ref Prng random)
    {
        if (Imu is null || Config.Imu is not { } imu) return;
        Imu.Imperfections = new Mpu6050Imperfections(
            imu.AccelNoiseStd * SensorNoiseScale, imu.GyroNoiseStd * SensorNoiseScale,
            imu.AccelBiasStd * random.NextGaussian(), imu.AccelBiasStd * random.NextGaussian(), imu.AccelBiasStd * random.NextGaussian(),
            imu.GyroBiasStd * random.NextGaussian(), imu.GyroBiasStd * random.NextGaussian(), imu.GyroBiasStd * random.NextGaussian(),
            0.0);
    }

    /// <summary>Angle of the shaft an encoder measures, rad.</summary>
    protected abstract double ShaftAngle(EncoderShaft shaft);

    /// <summary>Specific force (m/s²) and angular rate (rad/s) at the IMU, in body axes forward/left/up.</summary>
    protected abstract void BodyMotion(out double forceForward, out double forceLeft, out double forceUp, out double rateForward, out double rateLeft, out double rateUp);

    protected abstract void ReadMotorInputs();

    protected abstract void StepPhysics(double dt);

    protected abstract bool CheckFallen();

    protected abstract void Freeze();

    protected abstract void AdvanceFrozenTime(double dt);

    protected abstract void ResetPhysics(ref Prng random);

    protected abstract void ApplyParameterFactors();

    /// <summary>Names of the ground-truth values in order (README.md).</summary>
    public abstract ReadOnlySpan<string> TruthNames { get; }

    /// <summary>The seed the robot was built with.</summary>
    public ulong Seed => _seed;

    /// <summary>Builds the robot a physics file describes.</summary>
    public static SimulatedRobot Create(RobotPhysicsConfig config, ulong seed) => config.Robot switch
    {
        "balance-bot" => new SimulatedBalanceBot(config, seed),
        "cartpole-rail" => new SimulatedCartpoleRail(config, seed),
        _ => throw new RobotPhysicsConfigException($"robot: '{config.Robot}' is not one of {string.Join(", ", RobotPhysicsConfigLoader.KnownRobots)}"),
    };
}
