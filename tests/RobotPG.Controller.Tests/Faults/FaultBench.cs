using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using System.Diagnostics;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Hosting;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Simulation;
using RobotPG.Controller.Tasks;
using RobotPG.Controller.Tests.Learning;
using RobotPG.Hardware;
using RobotPG.Learning.Networks;
using RobotPG.Messaging;
using RobotPG.Numerics;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.Faults;

/// <summary>
/// The robot's chips as registers: an MPU-6050 and a PCA9685 emulation and the GPIO header. The robot stands on a
/// bench (upright, still, live sensor noise), so nothing but the injected fault can stop its motors.
/// </summary>
internal sealed class BenchChips
{
    private const double G = 9.80665;

    public Mpu6050Emulator Imu { get; } = new(noiseSeed: 5)
    {
        Imperfections = Mpu6050Imperfections.None with { AccelNoiseStd = 0.05, GyroNoiseStd = 0.01 },
    };

    public Pca9685Emulator Pwm { get; } = new();

    /// <summary>A frozen MPU-6050: its registers stop changing (<c>imu-frozen</c>).</summary>
    public bool ImuFrozen { get; set; }

    /// <summary>One sample period: a live chip takes a new sample.</summary>
    public void Sample()
    {
        if (!ImuFrozen) Imu.SetMotion(0, 0, G, 0, 0, 0, 25);
    }
}

/// <summary>
/// The Pi's buses over <see cref="BenchChips"/>: each I2C transfer reaches the chip at once through an
/// <see cref="EmulatedI2cDevice"/> (which can NACK), GPIO is the emulated header (a line can die), and, as on
/// the Pi, every read counts as new until the IMU's burst says otherwise.
/// </summary>
internal sealed class PiBenchBus(BenchChips chips) : IRobotBus
{
    private long _reads;
    private long _now = 1_000_000;

    public BenchChips Chips { get; } = chips;

    public EmulatedGpioDriver Pins { get; } = new();

    public Dictionary<int, EmulatedI2cDevice> I2c { get; } = [];

    public I2cDevice CreateI2cDevice(I2cConnectionSettings settings)
    {
        IRegisterDevice chip = settings.DeviceAddress switch
        {
            Mpu6050Emulator.DefaultAddress => Chips.Imu,
            Pca9685Emulator.DefaultAddress => Chips.Pwm,
            _ => throw new IOException($"no chip answers at 0x{settings.DeviceAddress:X2}"),
        };
        return I2c[settings.DeviceAddress] = new EmulatedI2cDevice(chip, settings.BusId);
    }

    public GpioController CreateGpioController() => new(Pins);

    public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle) => throw new NotSupportedException("the bench robot's motors are on the PCA9685");

    public void Tick()
    {
        _now += Stopwatch.Frequency / 200;
        Chips.Sample();
    }

    public void BeginRead(out long timestamp, out long sequence)
    {
        timestamp = _now;
        sequence = ++_reads; // the Pi's bus cannot tell new data from old (PiRobotBus)
    }

    public void CommitWrites()
    {
    }

    public void AwaitFreshData(TimeSpan samplePeriod) => Tick();
}

/// <summary>
/// The simulator's side of a lockstep sim bus over <see cref="BenchChips"/>, behind a <see cref="SimLink"/> that
/// loses, doubles, reorders or delays frames. Time is the link's own, in milliseconds, advanced by the test's
/// clock; as <c>robotpg-sim serve</c> does, the current tick is republished after 250 ms without an answer.
/// Before <see cref="Started"/> frames go straight through (the drivers' start-up reads its own writes).
/// </summary>
internal sealed class LinkPeer(BenchChips chips, SimLink link) : IActuatorFrameSink
{
    private const int RepublishMs = 250;
    private readonly SimActuatorFrame _actuators = new();
    private readonly SimActuatorFrame _command = new();
    private readonly SimSensorFrame _sensors = new();
    private readonly byte[] _encoded = new byte[SimSensorFrame.MaxEncodedLength];
    private byte[] _lastSensor = [];
    private long _lastProgressMs;
    private long _appliedAtStart;
    private ulong _appliedSequence;

    public BenchChips Chips { get; } = chips;
    public SimLink Link { get; } = link;
    public Controller.Simulation.SimBus Bus { get; set; } = null!;
    public bool[] PinLevels { get; } = new bool[64];
    public ulong Tick { get; private set; }
    public long NowMs { get; private set; }
    public long Applied { get; private set; }
    public long OutOfOrder { get; private set; }
    /// <summary>From here on frames go through the link; its faults count actuator frames (their @N) from here.</summary>
    public bool Started
    {
        get => _started;
        set
        {
            _started = value;
            _appliedAtStart = Applied;
        }
    }
    private bool _started;

    /// <summary>The encoded sensor frame of the current tick (a test replays an old one).</summary>
    public byte[] LastSensorFrame => _lastSensor;

    /// <summary>The controller's last actuator frame, decoded before the link (what it commanded, delivered or not).</summary>
    public SimActuatorFrame LastCommand => _command;

    public void Attach(Controller.Simulation.SimBus bus)
    {
        Bus = bus;
        Publish();
    }

    public void Send(ReadOnlySpan<byte> encodedFrame)
    {
        Assert.Equal(FrameStatus.Ok, _command.TryDecode(encodedFrame));
        if (!Started)
        {
            Apply(encodedFrame);
            return;
        }
        Link.Send(SimLinkDirection.Actuators, encodedFrame, NowMs, Applied - _appliedAtStart);
        // The controller may wait inside this step (a read after a write): link time runs on until the
        // simulator's answer (or its republish) is at the bus, at most the lockstep clock's second.
        RunUntilSensorFrame();
    }

    /// <summary>Delivers what is due and advances link time until the bus holds a frame it has not latched, at most 1 s.</summary>
    public void RunUntilSensorFrame()
    {
        PumpNow();
        for (int ms = 0; ms < 1000 && !Bus.HasNewFrame; ms++) AdvanceOneMillisecond();
    }

    /// <summary>Delivers whatever the link has due now, both ways.</summary>
    public void PumpNow()
    {
        Link.Pump(SimLinkDirection.Actuators, NowMs, bytes => Apply(bytes));
        Link.Pump(SimLinkDirection.Sensors, NowMs, bytes => Bus.ReceiveSensorFrame(bytes));
    }

    /// <summary>One millisecond of link time: due frames delivered, the republish timer run.</summary>
    public void AdvanceOneMillisecond()
    {
        NowMs++;
        if (NowMs - _lastProgressMs >= RepublishMs)
        {
            Link.Send(SimLinkDirection.Sensors, _lastSensor, NowMs, Applied - _appliedAtStart);
            _lastProgressMs = NowMs;
        }
        PumpNow();
    }

    private void Apply(ReadOnlySpan<byte> frame)
    {
        Assert.Equal(FrameStatus.Ok, _actuators.TryDecode(frame));
        if (_actuators.AnswersTick != Tick)
        {
            OutOfOrder++; // lockstep: a duplicate or a late answer to an older tick
            return;
        }
        for (int i = 0; i < _actuators.I2cWriteCount; i++)
        {
            IRegisterDevice device = _actuators.I2cWriteAddress(i) == Chips.Imu.Address ? Chips.Imu : Chips.Pwm;
            device.Write(_actuators.I2cWriteData(i));
        }
        for (int i = 0; i < _actuators.PinLevelCount; i++) PinLevels[_actuators.PinNumber(i)] = _actuators.PinHigh(i);
        _appliedSequence = _actuators.Sequence;
        Applied++;
        Tick++;
        Chips.Sample();
        Publish();
    }

    private void Publish()
    {
        _sensors.SetShape(2, 2);
        _sensors.SetDevice(0, Chips.Imu.Address, Chips.Imu.RegisterImage);
        _sensors.SetDevice(1, Chips.Pwm.Address, Chips.Pwm.RegisterImage);
        _sensors.EncoderCounts.Clear();
        _sensors.Sequence = Tick;
        _sensors.SimTime = Tick * 0.005;
        // As the simulator does: echo the last applied actuator frame and the pins as held, so the bus's
        // read-backs and its dead-pin check see what was applied.
        _sensors.AppliedActuatorSequence = _appliedSequence;
        ulong levels = 0;
        for (int pin = 0; pin < PinLevels.Length; pin++)
            if (PinLevels[pin]) levels |= 1UL << pin;
        _sensors.PinLevels = levels;
        int length = _sensors.Encode(_encoded);
        _lastSensor = _encoded.AsSpan(0, length).ToArray();
        _lastProgressMs = NowMs;
        if (Started) Link.Send(SimLinkDirection.Sensors, _lastSensor, NowMs, Applied - _appliedAtStart);
        else Bus.ReceiveSensorFrame(_lastSensor);
    }
}

/// <summary>An <see cref="IRobotIo"/> that notes, per control step, whether a sensor read succeeded (the periods that must be logged).</summary>
internal sealed class WatchedIo(IRobotIo inner) : IRobotIo
{
    public long Step { get; set; }
    public HashSet<long> StepsWithData { get; } = [];
    public int MotorCount => inner.MotorCount;
    public int EncoderCount => inner.EncoderCount;

    public void Read(SensorFrame frame)
    {
        inner.Read(frame);
        StepsWithData.Add(Step);
    }

    public void Drive(ReadOnlySpan<float> commands) => inner.Drive(commands);
    public void StopMotors() => inner.StopMotors();
    public void Dispose() => inner.Dispose();
}

/// <summary>
/// A clock that never waits: it runs the bench's script before each period, so the loop's period count is its time.
/// <paramref name="periodPassed"/> says, after the script, whether the period came (a lockstep tick within the wait).
/// </summary>
internal sealed class ScriptedClock(Action<long> beforeStep, Func<bool>? periodPassed = null) : IStepClock
{
    private long _k;

    public bool PeriodPassed { get; private set; } = true;

    public long WaitUntil(long deadline)
    {
        beforeStep(_k++);
        PeriodPassed = periodPassed?.Invoke() ?? true;
        return deadline;
    }
}

/// <summary>
/// The controller's loop, safety supervisor, task, log writer and (learning on) an on-device learner — the same
/// classes <c>robotpg run</c> wires — over either the Pi's buses on <see cref="BenchChips"/> or a lockstep sim bus
/// behind a faulty <see cref="SimLink"/>. The balance-bot sim config's limits (200 Hz, 5 stale periods, 2 retries,
/// PCA9685 read back every 50 reads). Single-threaded but for the log writer: the learner is pumped between steps.
/// </summary>
internal sealed class FaultBench : IDisposable
{
    public const int ReadBackEveryReads = 50;

    private readonly TempDirectory _dir = new();
    private readonly PiBenchBus? _pi;
    private readonly Controller.Simulation.SimBus? _simBus;
    private readonly IRobotIo _driverIo;
    private readonly Action<long>? _script;

    public FaultBench(bool learning, bool overSimLink, IEnumerable<SimFault> linkFaults, Action<long, FaultBench> script)
    {
        Config = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.sim.json")).Config!;
        Learning = learning;
        var options = DriverOptionsMapping.ToDriverOptions(Config) with
        {
            Imu = DriverOptionsMapping.ToDriverOptions(Config).Imu! with { ResetDelay = TimeSpan.Zero, GyroCalibrationSamples = 0 },
            Pca9685 = DriverOptionsMapping.ToDriverOptions(Config).Pca9685! with { OscillatorStartup = TimeSpan.Zero },
            Pca9685CheckEveryReads = ReadBackEveryReads,
        };
        Chips.Sample();
        if (overSimLink)
        {
            Peer = new LinkPeer(Chips, new SimLink(linkFaults, seed: 7));
            var pins = Config.Encoders.Select(e => new EncoderPins(e.PinA, e.PinB)).ToArray();
            _simBus = new Controller.Simulation.SimBus(new SimBusOptions { Encoders = pins, FrameTimeout = TimeSpan.FromMilliseconds(100) }, Peer);
            Peer.Attach(_simBus);
            _simBus.WaitForFirstFrame(TimeSpan.FromMilliseconds(100));
            _driverIo = new DriverRobotIo(options, _simBus);
            Peer.Started = true;
        }
        else
        {
            _pi = new PiBenchBus(Chips);
            _driverIo = new DriverRobotIo(options, _pi);
        }
        Io = new WatchedIo(_driverIo);

        var task = ControlTasks.Create(Config);
        Disk = new FaultDisk();
        LogRing = new TrajectoryRing(task.ObservationSize, task.ActionSize, 8192);
        ControlPolicy policy;
        IEpisodeReset? reset = null;
        TrajectoryRing? rollout = null;
        if (learning)
        {
            Algorithm = new ScriptedAlgorithm(64, normalizeObservations: true);
            rollout = new TrajectoryRing(task.ObservationSize, task.ActionSize, 8192);
            Events = new LearningEventQueue();
            var learningOptions = new LearningOptions
            {
                BatchSteps = 64, CheckpointDirectory = _dir.File("checkpoints"), CheckpointEveryUpdates = 1, CheckpointEveryEpisodes = 0, MaxKl = 1e9,
            };
            Learner = new OnDeviceLearner(Algorithm, rollout, learningOptions, Events, new LearnerCheckpoints(_dir.File("checkpoints")));
            policy = Learner.InitialPolicy;
            reset = new UprightResetCondition(Config.Imu!.Mounting, 5, 0.5, holdSteps: 20);
        }
        else
        {
            // A policy that drives both motors: zero mean, σ = 0.5 (the bench robot cannot fall).
            var network = new GaussianPolicy(task.ObservationSize, task.ActionSize, [8, 8], maxBatch: 1, seed: 3);
            network.Parameters.Clear();
            network.LogStd.Fill(MathF.Log(0.5f));
            policy = ControlPolicy.FromNetwork(network, null, deterministic: false, "noise");
        }
        Policies = new PolicyExchange(policy);
        Learner?.Attach(Policies);
        Safety = new SafetySupervisor(Config.Safety, Config.ControlRateHz, task.ActionSize);
        LogWriter = new TrajectoryLogWriter(LogRing, _dir.File("logs"), 1 << 26, "bench", policy.Hash, DateTimeOffset.UnixEpoch,
            new LogSyncPolicy(FaultMatrix.SyncEveryRecords, 0), Disk.OpenFile, task: "balance-bot");
        _script = k => script(k, this);
        Loop = new ControlLoop(Io, task, Policies, Safety, Config.ControlRateHz, Config.Task.MaxEpisodeSteps, seed: 3, LogRing, rollout,
            new ScriptedClock(BeforeStep, () => Peer?.Bus.HasNewFrame ?? true), reset);
    }

    public RobotConfig Config { get; }
    public bool Learning { get; }
    public BenchChips Chips { get; } = new();
    public LinkPeer? Peer { get; }
    public PiBenchBus? Pi => _pi;
    public Controller.Simulation.SimBus? SimBus => _simBus;
    public WatchedIo Io { get; }
    public ControlLoop Loop { get; }
    public SafetySupervisor Safety { get; }
    public PolicyExchange Policies { get; }
    public TrajectoryRing LogRing { get; }
    public TrajectoryLogWriter LogWriter { get; }
    public FaultDisk Disk { get; }
    public ScriptedAlgorithm? Algorithm { get; }
    public OnDeviceLearner? Learner { get; }
    public LearningEventQueue? Events { get; }

    /// <summary>The complete records that survived the power cut (power-cut row).</summary>
    public List<long> PowerCut { get; set; } = [];

    /// <summary>Wait, before each step, until the log writer has written every record so far (one record per batch: the fsync policy is judged per record).</summary>
    public bool LogInLockstep { get; set; }

    public string ScratchDirectory => Directory.CreateDirectory(_dir.File("scratch")).FullName;

    /// <summary>The motors as the chips hold them: PCA9685 duty of channels 0 and 1, and IN1/IN2 of both bridges.</summary>
    public MotorState Motors()
    {
        bool Pin(int p) => Peer is { } peer ? peer.PinLevels[p] : _pi!.Pins.Level(p);
        var m = Config.Motors;
        return new MotorState(
            [Chips.Pwm.DutyCycle(m[0].PwmChannel), Chips.Pwm.DutyCycle(m[1].PwmChannel)],
            [Pin(m[0].In1Pin), Pin(m[0].In2Pin), Pin(m[1].In1Pin), Pin(m[1].In2Pin)]);
    }

    /// <summary>Every count the controller keeps of a fault: bus and software faults, safety trips, sim-bus repeats and replays, log errors, learner rollbacks.</summary>
    public long Evidence()
    {
        long sum = Loop.Counters.BusFaults + Loop.Counters.SoftwareFaults + LogWriter.WriteErrors;
        foreach (var cause in Enum.GetValues<SafetyCause>())
            if (cause != SafetyCause.Shutdown) sum += Safety.Events(cause);
        if (_simBus is { } bus) sum += bus.RepublishedFrames + bus.ReplayedFrames;
        if (Learner is { } learner) sum += learner.Rollbacks + learner.Faults;
        return sum;
    }

    private void BeforeStep(long k)
    {
        Peer?.PumpNow();
        if (LogInLockstep)
        {
            long appended = Io.StepsWithData.Count;
            Assert.True(SpinWait.SpinUntil(() => LogWriter.RecordsWritten + LogWriter.RecordsLost >= appended, TimeSpan.FromSeconds(30)), "the log writer stalled");
        }
        Learner?.Pump();
        _script!(k);
        Io.Step = Loop.StepCount; // the step this wait is for (a lockstep wait with no tick is none: k counts waits)
        if (Peer is { } p)
        {
            // Lockstep pacing as SimRobotConnection's clock: wait (link time) for the next tick, at most 1 s; no tick, no step.
            p.RunUntilSensorFrame();
            return;
        }
        _pi!.Tick();
    }

    public void Dispose()
    {
        LogWriter.Dispose();
        Learner?.Dispose();
        _driverIo.Dispose();
        _simBus?.Dispose();
        _dir.Dispose();
    }
}

/// <summary>PCA9685 duty of the two motor channels and the four direction pins (left IN1, IN2, right IN1, IN2).</summary>
internal sealed record MotorState(double[] Duty, bool[] Pins)
{
    public bool AllPinsLow => Pins.All(p => !p);
    public bool Off => AllPinsLow && Duty.All(d => d == 0);
    public bool Driven => Duty.Any(d => d > 0) && Pins.Any(p => p);
    public override string ToString() => $"duty [{string.Join(", ", Duty)}], pins [{string.Join(", ", Pins.Select(p => p ? 1 : 0))}]";
}
