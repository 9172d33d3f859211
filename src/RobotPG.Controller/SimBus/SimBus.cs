using System.Device.Gpio;
using System.Device.I2c;
using System.Device.Pwm;
using System.Diagnostics;
using System.Globalization;
using RobotPG.Hardware;
using RobotPG.Messaging;

namespace RobotPG.Controller.Simulation;

/// <summary>The two GPIO pins of an encoder whose count is at a given index of the sensor frame.</summary>
public readonly record struct EncoderPins(int A, int B);

/// <summary>Settings of a <see cref="SimBus"/>.</summary>
public sealed record SimBusOptions
{
    /// <summary>Encoder pins in the order of <see cref="SimSensorFrame.EncoderCounts"/>.</summary>
    public IReadOnlyList<EncoderPins> Encoders { get; init; } = [];

    /// <summary>How long a start-up wait for a sensor frame (first frame, read-after-write, calibration) may take.</summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// The robot's buses served by the simulator over MQTT (DESIGN.md, "Simulator in the loop"). The
/// frame link (its reader thread, or in lockstep the waiting thread through <see cref="Pump"/>) hands each sensor frame to <see cref="ReceiveSensorFrame(ReadOnlySpan{byte})"/>;
/// the control thread sees one consistent frame from <see cref="BeginRead"/> to the next: frames go
/// through a lock-free triple buffer (receiver decodes into its own buffer, swaps it with the shared
/// middle one; the control thread swaps the middle one into its front buffer when it latches), so
/// neither side ever waits for the other or sees a half-written frame. Writes of a step are
/// collected in one <see cref="SimActuatorFrame"/> that <see cref="CommitWrites"/> encodes and
/// hands to an <see cref="IActuatorFrameSink"/>. Each actuator frame answers a different sensor tick
/// (lockstep: the sim computes tick k+1 once the answer to tick k arrived); writes made after the
/// latched tick was answered wait for the next tick. Which writes a sensor frame reflects comes from
/// the frame itself (the sim echoes the last actuator frame it applied), never from the clock mode:
/// in real time a frame computed before the sim applied a write must not answer its read-back. The
/// same echo checks each output pin against the level the sim holds, so a dead GPIO line is a bus
/// fault. Hot path (BeginRead, reads, writes, CommitWrites) allocates nothing.
/// </summary>
public sealed class SimBus : IRobotBus, IDisposable
{
    private const int FreshBit = 4;
    private const int IndexMask = 3;

    private readonly SimBusOptions _options;
    private readonly IActuatorFrameSink _sink;
    private readonly SimSensorFrame[] _frames = [new(), new(), new()];
    private readonly object _receiveGate = new();
    // No spinning before blocking: the next tick is a network round trip away, and while the control thread
    // (SCHED_FIFO) spins, the receive thread that would publish its answer cannot run on that core.
    private readonly ManualResetEventSlim _arrived = new(false, spinCount: 0);
    private readonly SimActuatorFrame _pending = new();
    private readonly byte[] _encoded = new byte[SimActuatorFrame.MaxEncodedLength];
    private readonly List<SimPwmChannel> _pwmChannels = [];
    private readonly SimGpioDriver _gpio;
    private int _back = 0;          // receiver's buffer
    private int _middle = 1;        // shared: index | FreshBit when it holds a frame not yet latched
    private int _front = 2;         // control thread's buffer
    private bool _haveFrame;
    private long _latched;
    private long _commits;
    private long _acknowledgedCommit;
    private ulong _lastAnsweredTick;
    private bool _answeredLatched;
    private bool _resendLastAnswer;
    private int _encodedLength;
    private bool _pendingWrites;
    private double _lastSimTime;
    private bool _receivedAny;
    private ulong _latchedTick;
    private ulong _newestReceived;
    private long _replayedFrames;
    private long _republishedFrames;
    private double _simTimeOffset;
    private readonly ulong _sequenceBase;
    private int _pinMismatch = -1;
    private ulong _pinMismatchTick;

    public SimBus(SimBusOptions options, IActuatorFrameSink sink)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _sink = sink ?? throw new ArgumentNullException(nameof(sink));
        _gpio = new SimGpioDriver(this, SimActuatorFrame.MaxPins, options.Encoders);
        // Actuator frames count up from a random start: a simulator that outlived an earlier controller
        // echoes that run's last frame, which must not acknowledge this run's writes.
        _sequenceBase = (ulong)Random.Shared.NextInt64(1, 1L << 62);
    }

    /// <summary>Outcome counts of every sensor payload received (malformed ones are dropped).</summary>
    public FrameCounters SensorFrames { get; } = new();

    /// <summary>The sensor frame the control thread currently reads (latched by <see cref="BeginRead"/>). Control thread only.</summary>
    public SimSensorFrame Current => _frames[_front];

    /// <summary>Distinct sensor frames latched so far: what <see cref="SensorFrame.Sequence"/> reports.</summary>
    public long LatchedFrames => Volatile.Read(ref _latched);

    /// <summary>Sensor frames of a tick older than one already received (replays): dropped, never latched.</summary>
    public long ReplayedFrames => Interlocked.Read(ref _replayedFrames);

    /// <summary>Repeats of the latched tick (the sim's republish when our answer was lost): answered again, not new data.</summary>
    public long RepublishedFrames => Interlocked.Read(ref _republishedFrames);

    /// <summary>Actuator frames sent a second time, unchanged, because the sim republished the tick they answered (lost on the way).</summary>
    public long ResentFrames { get; private set; }

    /// <summary>Actuator frames handed to the sink.</summary>
    public long CommittedFrames => _commits;

    /// <summary>Actuator frames (counted from 1) that the latest latched sensor frames show applied by the sim.</summary>
    public long AcknowledgedFrames => _acknowledgedCommit;

    /// <summary>The <see cref="SimActuatorFrame.Sequence"/> the n-th committed actuator frame (from 1) carries.</summary>
    public ulong ActuatorSequence(long commit) => _sequenceBase + (ulong)commit;

    /// <summary>I2C writes refused because the pending actuator frame was full.</summary>
    public long OverflowedWrites { get; private set; }

    public SimGpioDriver Gpio => _gpio;

    /// <summary>
    /// Takes a learning robot's episode-reset request, if one waits (the reset condition's, made on the control
    /// thread). Each one taken rides in the next actuator frame (<see cref="SimActuatorFrame.RequestsReset"/>), so in
    /// lockstep the simulator resets at the same tick in every run; a separate command would race that frame.
    /// </summary>
    public Func<bool>? TakeResetRequest { get; set; }

    /// <summary>
    /// Reads the network for the next sensor frame on the waiting thread (lockstep: <see cref="MqttFrameLink.Pump"/>)
    /// until one was received or the timeout passed; null when frames arrive by themselves (a reader thread calls
    /// <see cref="ReceiveSensorFrame(ReadOnlySpan{byte})"/>). Set before the first wait.
    /// </summary>
    public Func<TimeSpan, bool>? Pump { get; set; }

    /// <summary>Actuator frames sent with a reset request.</summary>
    public long ResetsRequested { get; private set; }

    // ---- receive side (MQTT thread) ----

    /// <summary>Decodes a sensor frame from the simulator; a malformed one is counted and dropped. Any thread.</summary>
    public FrameStatus ReceiveSensorFrame(ReadOnlySpan<byte> payload)
    {
        FrameStatus status;
        lock (_receiveGate)
        {
            status = _frames[_back].TryDecode(payload);
            if (status == FrameStatus.Ok)
            {
                ulong tick = _frames[_back].Sequence;
                // A replayed older tick is never shown as data. Tick 0 is a restarted simulator, and a
                // repeat of the newest tick (the sim's republish after a lost answer) goes through:
                // the control thread answers it again but does not count it as new data.
                if (_receivedAny && tick < _newestReceived && tick != 0)
                {
                    Interlocked.Increment(ref _replayedFrames);
                    SensorFrames.Record(status);
                    return status;
                }
                _receivedAny = true;
                _newestReceived = tick;
                _back = Interlocked.Exchange(ref _middle, _back | FreshBit) & IndexMask;
            }
        }
        SensorFrames.Record(status);
        if (status == FrameStatus.Ok) _arrived.Set();
        return status;
    }

    // ---- control thread ----

    /// <summary>True when a frame newer than the latched one has arrived (does not latch it).</summary>
    public bool HasNewFrame => (Volatile.Read(ref _middle) & FreshBit) != 0;

    /// <summary>
    /// Waits until a frame newer than the latched one has arrived (lockstep pacing of the control
    /// loop); false on timeout. Does not latch it: the next <see cref="BeginRead"/> does.
    /// </summary>
    public bool WaitForNewFrame(TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            _arrived.Reset();
            if (HasNewFrame) return true;
            long remaining = deadline - Stopwatch.GetTimestamp();
            if (remaining <= 0) return false;
            var wait = TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency);
            // A pump returns after any frame (a malformed one, a replay: the loop checks) or at the deadline.
            if (Pump is { } pump ? !pump(wait) : !_arrived.Wait(wait)) return HasNewFrame;
        }
    }

    /// <summary>
    /// Lockstep pacing of the control loop: waits until a tick that needs a control step has arrived and latches
    /// it; false on timeout. A republish of the tick already answered (our answer was lost or is late) is answered
    /// here, with the same frame, and the wait goes on: it carries no new data, and a step on it would put the
    /// same transition in the log and the learner's batch twice and make the run depend on the broker's timing.
    /// </summary>
    public bool WaitForNextTick(TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            long remaining = deadline - Stopwatch.GetTimestamp();
            if (remaining <= 0 || !WaitForNewFrame(TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency))) return false;
            if (TryLatch() || !_resendLastAnswer) return true;
            Send();
        }
    }

    /// <summary>Waits for the simulator's first frame and latches it; throws <see cref="TimeoutException"/> when none comes.</summary>
    public void WaitForFirstFrame(TimeSpan timeout)
    {
        if (_haveFrame) return;
        if (!WaitForNewFrame(timeout))
            throw new TimeoutException($"no sensor frame from the simulator within {timeout.TotalSeconds:F1} s: is robotpg-sim serving this robot on the broker?");
        TryLatch();
    }

    public void BeginRead(out long timestamp, out long sequence)
    {
        TryLatch();
        if (!_haveFrame) throw new IOException("no sensor frame from the simulator yet");
        if (_pinMismatch >= 0) ThrowPinMismatch();
        timestamp = (long)((_simTimeOffset + Current.SimTime) * Stopwatch.Frequency);
        sequence = _latched;
    }

    public void CommitWrites()
    {
        if (!_haveFrame) return;
        if (_answeredLatched) TryLatch();
        if (_answeredLatched) return; // sent with the answer to the next tick
        Send();
    }

    /// <summary>
    /// Sends pending writes now, waiting for the next tick if the latched one was already answered
    /// (shutdown: the motors-off writes must reach the sim before the process exits).
    /// </summary>
    public void Flush()
    {
        // A republished tick takes the resent answer first, so this may take more than one tick; each wait is bounded.
        while (_pendingWrites)
        {
            if (_answeredLatched) AwaitNewerFrame();
            Send();
        }
    }

    public void AwaitFreshData(TimeSpan samplePeriod)
    {
        // In lockstep the sim only moves on once this tick is answered, so answer it (maybe with nothing).
        if (_haveFrame && !_answeredLatched) Send();
        AwaitNewerFrame();
    }

    public I2cDevice CreateI2cDevice(I2cConnectionSettings settings) => new SimI2cDevice(this, settings);

    public GpioController CreateGpioController() => new(_gpio);

    public PwmChannel CreatePwmChannel(int chip, int channel, int frequencyHz, double dutyCycle)
    {
        var pwm = new SimPwmChannel(this, chip, channel, frequencyHz, dutyCycle);
        _pwmChannels.Add(pwm);
        RecordPwm(pwm.Setting);
        return pwm;
    }

    public void Dispose() => _arrived.Dispose();

    /// <summary>Records an I2C write transfer; returns the number of the actuator frame that will carry it.</summary>
    internal long RecordI2cWrite(int address, ReadOnlySpan<byte> transfer)
    {
        if (!_pending.TryAddI2cWrite(address, transfer))
        {
            OverflowedWrites++;
            throw new IOException(
                $"the actuator frame for the simulator is full ({_pending.I2cWriteCount} I2C writes pending since tick {_lastAnsweredTick}): the sim is not answering");
        }
        _pendingWrites = true;
        return _commits + 1;
    }

    /// <summary>The number of the actuator frame that will carry writes made now.</summary>
    internal long NextCommit => _commits + 1;

    internal void RecordPinLevel(int pin, bool high)
    {
        if (!_pending.TrySetPinLevel(pin, high))
            throw new IOException($"GPIO {pin}: the actuator frame carries at most {SimActuatorFrame.MaxPinLevels} output pins");
        _pendingWrites = true;
    }

    internal void RecordPwm(PwmSetting setting)
    {
        if (!_pending.TrySetPwm(setting))
            throw new IOException($"the actuator frame carries at most {SimActuatorFrame.MaxPwmChannels} hardware PWM channels");
        _pendingWrites = true;
    }

    /// <summary>Read-after-write: makes sure actuator frame <paramref name="commit"/> went out and the latched frame reflects it.</summary>
    internal void SynchroniseThrough(long commit, SimI2cDevice device)
    {
        try
        {
            if (commit > _commits) Flush();
            // Bounded: a simulator that keeps sending frames but never echoes our write (an older build, or our
            // frames never reach it) would otherwise keep this loop answering forever.
            long deadline = Stopwatch.GetTimestamp() + (long)(_options.FrameTimeout.TotalSeconds * Stopwatch.Frequency);
            while (_acknowledgedCommit < commit)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new TimeoutException(
                        $"the simulator sent frames but applied none of ours within {_options.FrameTimeout.TotalSeconds:F1} s (it does not echo actuator frame {ActuatorSequence(commit)}: an older simulator, or our frames do not reach it)");
                }
                // A frame the sim dropped (it answered a tick that a reset superseded, or was lost) is never
                // echoed: answer the tick we hold, and the first frame applied after it acknowledges the rest.
                if (_haveFrame && !_answeredLatched) Send();
                AwaitNewerFrame();
            }
        }
        catch (TimeoutException ex)
        {
            throw new IOException($"I2C bus {device.ConnectionSettings.BusId} address 0x{device.Address:X2}: {ex.Message}", ex);
        }
    }

    private void Send()
    {
        if (_resendLastAnswer)
        {
            // Our answer to this tick was lost. Pins and PWM ride in every frame, but an I2C write rides only in
            // the frame made when it happened: send that same frame again (same sequence) rather than a new one,
            // so start-up writes reach the chips and their read-back sees them. Exactly once: in lockstep the sim
            // applies one answer per tick and drops a late duplicate as out of order. Writes made since wait for
            // the next tick.
            _resendLastAnswer = false;
            _sink.Send(_encoded.AsSpan(0, _encodedLength));
            ResentFrames++;
            _answeredLatched = true;
            return;
        }
        _pending.Sequence = ActuatorSequence(_commits + 1);
        _pending.AnswersTick = Current.Sequence;
        if (TakeResetRequest is { } take && take())
        {
            _pending.RequestsReset = true;
            ResetsRequested++;
        }
        _encodedLength = _pending.Encode(_encoded);
        _sink.Send(_encoded.AsSpan(0, _encodedLength));
        _commits++;
        _lastAnsweredTick = Current.Sequence;
        _answeredLatched = true;
        _pendingWrites = false;
        _pending.Clear();
        // Every frame carries the whole output state, so a lost frame costs one tick, not a stuck output.
        _gpio.RecordOutputs();
        foreach (var pwm in _pwmChannels) _pending.TrySetPwm(pwm.Setting);
        _pendingWrites = false;
    }

    /// <summary>Waits for the next tick, as the lockstep loop does (a republish of an answered tick is answered, not new data: a start-up sample read twice would skew the gyro calibration).</summary>
    private void AwaitNewerFrame()
    {
        if (!WaitForNextTick(_options.FrameTimeout))
        {
            throw new TimeoutException(
                $"no new sensor frame from the simulator within {_options.FrameTimeout.TotalSeconds:F1} s after tick {Current.Sequence}");
        }
    }

    private void ThrowPinMismatch()
    {
        int pin = _pinMismatch;
        bool wrote = _gpio.OutputLevel(pin);
        throw new GpioWriteException(pin.ToString(CultureInfo.InvariantCulture), new IOException(
            $"wrote {(wrote ? "high" : "low")}, the simulator's pin reads {(wrote ? "low" : "high")} (tick {_pinMismatchTick}, after the write was applied): a dead GPIO line"));
    }

    private bool TryLatch()
    {
        if ((Volatile.Read(ref _middle) & FreshBit) == 0) return false;
        _front = Interlocked.Exchange(ref _middle, _front) & IndexMask;
        var frame = _frames[_front];
        if (_haveFrame && frame.Sequence == _latchedTick)
        {
            // The sim republished the tick we hold: our answer was lost (or is late). Same data, so the
            // sequence does not move (the stale rule sees it); the next commit sends that answer again.
            Interlocked.Increment(ref _republishedFrames);
            _answeredLatched = false;
            _resendLastAnswer = _commits > 0 && _lastAnsweredTick == frame.Sequence;
            return false;
        }
        _latchedTick = frame.Sequence;
        _resendLastAnswer = false; // the sim moved on: a lost answer's writes are lost with its tick (an episode reset)
        if (_haveFrame && frame.SimTime < _lastSimTime) _simTimeOffset += _lastSimTime; // sim reset: keep time monotonic
        _lastSimTime = frame.SimTime;
        Volatile.Write(ref _latched, _latched + 1);
        bool sameTick = _commits > 0 && frame.Sequence == _lastAnsweredTick;
        _answeredLatched = sameTick;
        // Which of our frames the sim had applied when it computed this one: an echo below our start
        // or past our last frame (an earlier run's, a restarted sim's 0) acknowledges nothing.
        ulong applied = frame.AppliedActuatorSequence - _sequenceBase;
        bool ours = frame.AppliedActuatorSequence > _sequenceBase && applied <= (ulong)_commits;
        if (ours && (long)applied > _acknowledgedCommit) _acknowledgedCommit = (long)applied;
        _pinMismatch = ours ? _gpio.FindUnappliedLevel(frame.PinLevels, (long)applied) : -1;
        _pinMismatchTick = frame.Sequence;
        _haveFrame = true;
        _gpio.FollowEncoders(frame.EncoderCounts);
        return true;
    }
}
