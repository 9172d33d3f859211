using RobotPG.Controller.Simulation;
using RobotPG.Messaging;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.SimBus;

/// <summary>
/// The simulator's side of the sim bus reduced to its chips, for tests: replays each actuator frame
/// on the emulated MPU-6050 and PCA9685 (as the sim's robot does), advances one tick, runs the test's
/// <see cref="Physics"/>, and answers with a sensor frame carrying the chips' register images and the
/// encoder counts. Lockstep: an actuator frame that does not answer the current tick is dropped.
/// Used inline as the bus's sink (everything on the calling thread) or behind
/// <see cref="RunOnThread"/>.
/// </summary>
internal sealed class LockstepPeer : IActuatorFrameSink
{
    private readonly SimActuatorFrame _actuators = new();
    private readonly SimSensorFrame _sensors = new();
    private readonly byte[] _encoded = new byte[SimSensorFrame.MaxEncodedLength];
    private Controller.Simulation.SimBus? _bus;

    public LockstepPeer(int encoderCount = 2)
    {
        EncoderCounts = new long[encoderCount];
    }

    public Mpu6050Emulator Imu { get; } = new();
    public Pca9685Emulator Pwm { get; } = new();
    public long[] EncoderCounts { get; }
    public bool[] PinLevels { get; } = new bool[64];
    public ulong Tick { get; private set; }
    public double TickSeconds { get; init; } = 0.002;
    public long OutOfOrder { get; private set; }
    public long Malformed { get; private set; }
    public long Applied { get; private set; }

    /// <summary>The sequence of the last actuator frame applied: each sensor frame echoes it, as the sim's do.</summary>
    public ulong AppliedSequence { get; private set; }

    /// <summary>Fault injection: false, the peer applies frames but its sensor frames never echo them (an older simulator).</summary>
    public bool EchoesApplied { get; set; } = true;

    /// <summary>Fault injection: writes to this GPIO are lost (a dead line); -1: none.</summary>
    public int StuckPin { get; set; } = -1;

    /// <summary>Fault injection: this many next actuator frames are lost before they reach the peer.</summary>
    public int DropNext { get; set; }

    /// <summary>Keep every published frame in <see cref="Published"/> (allocates; off for allocation tests).</summary>
    public bool KeepHistory { get; init; }

    /// <summary>The encoded sensor frame of every tick published, by tick (for replays), when <see cref="KeepHistory"/>.</summary>
    public Dictionary<ulong, byte[]> Published { get; } = [];

    /// <summary>What the sim does when nobody answered for a while: the current tick again, same bytes.</summary>
    public void Republish() => _bus!.ReceiveSensorFrame(Published[Tick]);

    /// <summary>What the sim does on cmd/reset: a new tick that applied no actuator frame (an answer to the old tick is then out of order).</summary>
    public void SkipTick()
    {
        Tick++;
        Publish();
    }

    /// <summary>Runs after the actuators were applied, before the next tick's frame is published.</summary>
    public Action<LockstepPeer>? Physics { get; set; }

    /// <summary>Attaches the bus and publishes tick 0.</summary>
    public void Attach(Controller.Simulation.SimBus bus)
    {
        _bus = bus;
        Publish();
    }

    public void Send(ReadOnlySpan<byte> encodedFrame) => Process(encodedFrame);

    /// <summary>With <see cref="KeepHistory"/>: the reset flag of every well-formed frame sent, lost ones included, in order.</summary>
    public List<bool> ResetFlags { get; } = [];

    /// <summary>Applied frames that asked for a reset.</summary>
    public long ResetsApplied { get; private set; }

    public void Process(ReadOnlySpan<byte> encodedFrame)
    {
        if (_actuators.TryDecode(encodedFrame) != FrameStatus.Ok)
        {
            Malformed++;
            return;
        }
        if (KeepHistory) ResetFlags.Add(_actuators.RequestsReset);
        if (DropNext > 0)
        {
            DropNext--; // lost on the way: never reached the sim
            return;
        }
        if (_actuators.AnswersTick != Tick)
        {
            OutOfOrder++;
            return;
        }
        for (int i = 0; i < _actuators.I2cWriteCount; i++)
        {
            IRegisterDevice device = _actuators.I2cWriteAddress(i) == Imu.Address ? Imu : Pwm;
            device.Write(_actuators.I2cWriteData(i));
        }
        for (int i = 0; i < _actuators.PinLevelCount; i++)
        {
            int pin = _actuators.PinNumber(i);
            if (pin != StuckPin) PinLevels[pin] = _actuators.PinHigh(i);
        }
        AppliedSequence = _actuators.Sequence;
        Applied++;
        if (_actuators.RequestsReset) ResetsApplied++;
        Tick++;
        Physics?.Invoke(this);
        Publish();
    }

    /// <summary>Serves the frames of <paramref name="queue"/> on a thread of its own until cancelled.</summary>
    public Task RunOnThread(ActuatorFrameQueue queue, CancellationToken cancellationToken) => Task.Factory.StartNew(() =>
    {
        var buffer = new byte[SimActuatorFrame.MaxEncodedLength];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!queue.WaitForFrame(TimeSpan.FromMilliseconds(50), cancellationToken)) continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }
            while (queue.TryDequeue(buffer, out int length)) Process(buffer.AsSpan(0, length));
        }
    }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Publish()
    {
        _sensors.SetShape(2, EncoderCounts.Length);
        _sensors.SetDevice(0, Imu.Address, Imu.RegisterImage);
        _sensors.SetDevice(1, Pwm.Address, Pwm.RegisterImage);
        EncoderCounts.CopyTo(_sensors.EncoderCounts);
        _sensors.Sequence = Tick;
        _sensors.SimTime = Tick * TickSeconds;
        _sensors.AppliedActuatorSequence = EchoesApplied ? AppliedSequence : 0;
        ulong levels = 0;
        for (int pin = 0; pin < PinLevels.Length; pin++)
            if (PinLevels[pin]) levels |= 1UL << pin;
        _sensors.PinLevels = levels;
        int length = _sensors.Encode(_encoded);
        if (KeepHistory) Published[Tick] = _encoded.AsSpan(0, length).ToArray();
        _bus!.ReceiveSensorFrame(_encoded.AsSpan(0, length));
    }
}
