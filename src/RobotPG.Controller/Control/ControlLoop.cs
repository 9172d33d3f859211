using System.Diagnostics;
using RobotPG.Controller.Learning;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;
using RobotPG.Hardware;
using RobotPG.Numerics;

namespace RobotPG.Controller.Control;

/// <summary>
/// The fixed-rate control loop (DESIGN.md "The control step"). <see cref="Step"/> is one period:
/// read sensors (with retries), task → observation/reward/done, normalise + policy, safety filter,
/// drive the motors (or stop them), append the transition to the log ring and the rollout ring.
/// <see cref="Run"/> paces steps on <see cref="Stopwatch"/> with a hybrid sleep/spin wait on the
/// calling thread; <see cref="Start"/> runs it on a dedicated highest-priority thread. No exception
/// leaves a step: faults become safety trips. After construction a step allocates nothing.
/// </summary>
public sealed class ControlLoop
{
    private readonly IRobotIo _io;
    private readonly IControlTask _task;
    private readonly PolicyExchange _policies;
    private readonly SafetySupervisor _safety;
    private readonly TrajectoryRing? _logRing;
    private readonly TrajectoryRing? _rolloutRing;
    private readonly SensorFrame _frame;
    private readonly float[] _observation;
    private readonly float[] _normalized;
    private readonly float[] _action;
    private readonly float[] _safeAction;
    private readonly long _periodTicks;
    private readonly float _dt;
    private Prng _prng;
    private long _step;
    private long _startTimestamp;
    private readonly int _maxEpisodeSteps;
    private readonly IStepClock _clock;
    private bool _episodeOpen;
    private bool _readyForEpisode = true;
    private readonly IEpisodeReset? _episodeReset;
    private bool _awaitingReset; // learning: motors off between an episode's end and the reset condition
    private double _episodeReturn;
    private int _episodeLength;
    private volatile bool _stopRequested;
    private Thread? _thread;
    private long _allocatedAfterWarmup = -1;
    private long _allocatedAtEnd = -1;
    private long _stepsMeasured;
    private long _firstStepTimestamp;
    private long _lastSequence = long.MinValue;
    private const int RecentObservationCapacity = 256;

    public ControlLoop(
        IRobotIo io, IControlTask task, PolicyExchange policies, SafetySupervisor safety, double controlRateHz, int maxEpisodeSteps, ulong seed,
        TrajectoryRing? logRing = null, TrajectoryRing? rolloutRing = null, IStepClock? clock = null, IEpisodeReset? episodeReset = null)
    {
        _episodeReset = episodeReset;
        // Without a learner's reset condition, tilt and stale-sensor trips re-arm once clear for a second.
        if (episodeReset is null) safety.AutoRearmPeriods = (int)Math.Ceiling(controlRateHz);
        _clock = clock ?? new RealTimeClock();
        _maxEpisodeSteps = maxEpisodeSteps;
        _io = io;
        _task = task;
        _policies = policies;
        _safety = safety;
        _logRing = logRing;
        _rolloutRing = rolloutRing;
        if (policies.Current.ObservationSize != task.ObservationSize || policies.Current.ActionSize != task.ActionSize)
            throw new ArgumentException($"policy {policies.Current.ObservationSize} → {policies.Current.ActionSize} does not fit task {task.ObservationSize} → {task.ActionSize}", nameof(policies));
        if (io.MotorCount != task.ActionSize)
            throw new ArgumentException($"the robot has {io.MotorCount} motors, the task drives {task.ActionSize}", nameof(io));
        _frame = new SensorFrame(io.EncoderCount);
        _observation = new float[task.ObservationSize];
        _normalized = new float[task.ObservationSize];
        _action = new float[task.ActionSize];
        _safeAction = new float[task.ActionSize];
        _periodTicks = (long)Math.Round(Stopwatch.Frequency / controlRateHz);
        _dt = (float)(1.0 / controlRateHz);
        _prng = new Prng(seed);
        RecentObservations = new ObservationWindow(task.ObservationSize, RecentObservationCapacity);
    }

    /// <summary>The last observations the policy acted on (≈ 1 s at 200 Hz): what a new policy's KL bound is judged on.</summary>
    public ObservationWindow RecentObservations { get; }

    public LoopCounters Counters { get; } = new();

    /// <summary>Lateness of each step's start against its deadline.</summary>
    public LatencyHistogram PeriodError { get; } = new();

    /// <summary>Duration of each step (read … log append).</summary>
    public LatencyHistogram StepLatency { get; } = new();

    public SafetySupervisor Safety => _safety;

    /// <summary>Where new policies (learner, operator push) wait for the next step.</summary>
    public PolicyExchange Policies => _policies;

    /// <summary>Operator commands, applied at the start of the next step.</summary>
    public OperatorCommandQueue Commands { get; } = new();

    public long StepCount => Volatile.Read(ref _step);

    /// <summary>The last action sent to the motors (zeros while stopped).</summary>
    public ReadOnlySpan<float> SafeAction => _safeAction;

    /// <summary>Bytes allocated on the loop thread between the end of warm-up and the end of <see cref="Run"/> (−1 until measured).</summary>
    public long AllocatedBytesAfterWarmup => _allocatedAtEnd < 0 || _allocatedAfterWarmup < 0 ? -1 : _allocatedAtEnd - _allocatedAfterWarmup;

    /// <summary>Stopwatch timestamp at which the first step of <see cref="Run"/> started (0 before).</summary>
    public long FirstStepTimestamp => Volatile.Read(ref _firstStepTimestamp);

    /// <summary>Steps in the allocation measurement.</summary>
    public long StepsMeasured => _stepsMeasured;

    /// <summary>
    /// The fault that ended <see cref="Run"/> (bus fault past its retries, NaN/∞, software fault), null when
    /// it ended on request or duration. The process exits non-zero on it (README, "Faults and recovery").
    /// </summary>
    public SafetyCause? FatalCause { get; private set; }

    /// <summary>
    /// The exception behind the latest bus or software fault (null if none): it names the chip or pin and the
    /// fault (<see cref="FaultDescription"/>). Kept by reference, so recording it allocates nothing.
    /// </summary>
    public Exception? LastFault => Volatile.Read(ref _lastFault);
    private Exception? _lastFault;

    /// <summary>The exit line's account of <see cref="FatalCause"/>: "bus-fault (i2c-nack: PCA9685 at … 0x40 …)".</summary>
    public string? FatalDescription => FatalCause is not { } cause ? null
        : FaultDescription.Describe(cause is SafetyCause.BusFault or SafetyCause.SoftwareFault ? LastFault : null) is { } d
            ? $"{Telemetry.TelemetryPublisher.CauseName(cause)} ({d})"
            : Telemetry.TelemetryPublisher.CauseName(cause);

    /// <summary>systemd's READY/WATCHDOG pings, sent from this thread so a hung loop stops them (null: not under systemd).</summary>
    public Hosting.SystemdNotifier? Notifier { get; init; }

    /// <summary>
    /// Lockstep only (set before <see cref="Start"/>): a step does not start while the trajectory log ring is full;
    /// the loop waits, 1 ms at a time, for the log writer to take records. The simulator's time stands still
    /// meanwhile, so a disk slower than the run (its fsyncs) slows the run instead of losing records. Never in
    /// real time, where the loop must not wait on the disk (a full ring there drops and counts the record).
    /// </summary>
    public bool HoldWhileLogFull { get; set; }

    /// <summary>Waits of the clock that ended with no period passed (lockstep: no tick from the simulator within its limit); no step was taken on them.</summary>
    public long SilentWaits => Volatile.Read(ref _silentWaits);
    private long _silentWaits;

    /// <summary>The 1 ms waits <see cref="HoldWhileLogFull"/> made so far.</summary>
    public long LogHolds => Volatile.Read(ref _logHolds);
    private long _logHolds;

    /// <summary>
    /// Lockstep only (set before <see cref="Start"/>): the on-device learner's gate. A step does not start while the
    /// learner may have a full batch whose update (or evaluation verdict) is not done: the simulator's time stands still
    /// meanwhile, the new policy runs from the step after the one that filled the batch, and how fast the learner
    /// thread is (the machine's load) changes nothing the robot does. Never in real time, where the loop never waits for the learner.
    /// A learner that stops releases the gate; one that does not move it within <see cref="LearnerHoldLimit"/> (hung)
    /// is given up on: counted in <see cref="LearnerHoldTimeouts"/>, and the loop holds for it no more in this run.
    /// </summary>
    public LearnerGate? LearnerGate { get; set; }

    /// <summary>How long one hold may wait for the learner before the loop gives up on it (a learner hung in an update).</summary>
    public TimeSpan LearnerHoldLimit { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Steps that waited for the learner (<see cref="LearnerGate"/>) before they started.</summary>
    public long LearnerHolds => Volatile.Read(ref _learnerHolds);
    private long _learnerHolds;

    /// <summary>Holds that ran out of <see cref="LearnerHoldLimit"/> (0 or 1: after the first the loop stops holding).</summary>
    public long LearnerHoldTimeouts => Volatile.Read(ref _learnerHoldTimeouts);
    private long _learnerHoldTimeouts;
    private long _lastEpisodeEndStep = -1; // the newest episode-ending record handed to the learner

    /// <summary>Any thread: finish the current step, stop the motors and return from <see cref="Run"/>.</summary>
    public void RequestStop() => _stopRequested = true;

    /// <summary>True when the loop thread runs under SCHED_FIFO (see <see cref="RealtimeScheduling"/>).</summary>
    public bool RealtimeScheduled { get; private set; }

    /// <summary>Starts <see cref="Run"/> on a dedicated thread at the highest priority the OS grants (SCHED_FIFO when permitted).</summary>
    public void Start(long maxSteps = long.MaxValue, long warmupSteps = 1000)
    {
        _thread = new Thread(() =>
        {
            RealtimeScheduled = RealtimeScheduling.TryEnableForCurrentThread(priority: 80);
            Run(maxSteps, warmupSteps);
        })
        { IsBackground = true, Name = "robotpg-control" };
        try
        {
            _thread.Priority = ThreadPriority.Highest;
        }
        catch (ThreadStateException)
        {
            // Linux without CAP_SYS_NICE ignores or refuses it; the loop still runs at normal priority.
        }
        _thread.Start();
    }

    /// <summary>Waits for the loop thread started by <see cref="Start"/>.</summary>
    public bool Join(TimeSpan timeout) => _thread is null || _thread.Join(timeout);

    /// <summary>
    /// Runs steps at the control rate on the calling thread until <see cref="RequestStop"/> or
    /// <paramref name="maxSteps"/>, then stops the motors. Overruns skip the missed deadlines rather
    /// than bursting to catch up.
    /// </summary>
    public void Run(long maxSteps = long.MaxValue, long warmupSteps = 1000)
    {
        _startTimestamp = Stopwatch.GetTimestamp();
        long deadline = _startTimestamp;
        long steps = 0;
        try
        {
            while (!_stopRequested && steps < maxSteps)
            {
                if (HoldWhileLogFull && _logRing is not null && !WaitForLogRoom())
                    break;
                if (LearnerGate is { } gate && !gate.MayStart(_step, _lastEpisodeEndStep) && !WaitForLearner(gate))
                    break;
                long start = _clock.WaitUntil(deadline);
                if (!_clock.PeriodPassed)
                {
                    // Lockstep with no tick from the simulator within the wait: its robot time stood still, so no step.
                    // A step on the old tick would log a transition the robot never made (and answer the next tick with
                    // its action), so a loaded machine's slow round trip would change the run. The silence still counts
                    // toward the stale-sensor rule: a simulator that is gone trips it, and the next step, on the next
                    // tick, sends the motors-off (nothing in the simulator moves before that answer).
                    Volatile.Write(ref _silentWaits, _silentWaits + 1);
                    _safety.CheckNoFrame();
                    continue;
                }
                if (steps == 0)
                    Volatile.Write(ref _firstStepTimestamp, start);
                PeriodError.Record(start - deadline);
                Step(start);
                if (_safety.Tripped && SafetySupervisor.IsFatal(_safety.Cause))
                {
                    // Motors are off since this step (Actuate); a fault that does not clear by itself ends
                    // the run so the process exits non-zero and systemd restarts it (re-probing the chips).
                    FatalCause = _safety.Cause;
                    steps++;
                    break;
                }
                long end = Stopwatch.GetTimestamp();
                StepLatency.Record(end - start);
                steps++;
                Notifier?.AfterStep(steps);
                if (steps == warmupSteps)
                    _allocatedAfterWarmup = GC.GetAllocatedBytesForCurrentThread();
                deadline += _periodTicks;
                if (end > deadline)
                {
                    Counters.AddOverrun();
                    long missed = (end - deadline) / _periodTicks + 1;
                    deadline += missed * _periodTicks;
                }
            }
        }
        finally
        {
            if (_allocatedAfterWarmup >= 0)
            {
                _allocatedAtEnd = GC.GetAllocatedBytesForCurrentThread();
                _stepsMeasured = steps - warmupSteps;
            }
            _safety.Trip(SafetyCause.Shutdown);
            _io.StopMotors();
            Notifier?.NotifyStopping();
        }
    }

    /// <summary>Waits while the log ring is full; false when a stop was requested meanwhile.</summary>
    private bool WaitForLogRoom()
    {
        while (_logRing!.Count >= _logRing.Capacity)
        {
            if (_stopRequested) return false;
            Volatile.Write(ref _logHolds, _logHolds + 1);
            Thread.Sleep(1);
        }
        return true;
    }

    /// <summary>Waits until the learner lets step <c>_step</c> start; false when a stop was requested meanwhile.</summary>
    private bool WaitForLearner(LearnerGate gate)
    {
        gate.LoopWaitsAt(_step);
        Volatile.Write(ref _learnerHolds, _learnerHolds + 1);
        long start = Stopwatch.GetTimestamp();
        var spin = new SpinWait();
        while (!gate.MayStart(_step, _lastEpisodeEndStep))
        {
            if (_stopRequested) return false;
            if (Stopwatch.GetElapsedTime(start) > LearnerHoldLimit)
            {
                // A learner that moves nothing for this long is hung: robot time may not stand still for ever.
                Volatile.Write(ref _learnerHoldTimeouts, _learnerHoldTimeouts + 1);
                LearnerGate = null;
                return true;
            }
            spin.SpinOnce(sleep1Threshold: 20); // an update takes milliseconds: spin briefly, then sleep 1 ms at a time
        }
        return true;
    }

    /// <summary>One control step at <paramref name="timestamp"/> (Stopwatch ticks). Never throws.</summary>
    public void Step(long timestamp)
    {
        try
        {
            StepCore(timestamp);
        }
        catch (Exception e)
        {
            // Everything expected is handled inside; this is the last line for the unexpected
            // (a misbehaving IRobotIo.StopMotors, a ring bug): motors off, keep the loop alive.
            Volatile.Write(ref _lastFault, e);
            Counters.AddSoftwareFault();
            _safety.Trip(SafetyCause.SoftwareFault);
            try
            {
                _io.StopMotors();
            }
            catch (Exception)
            {
                // Nothing more a step can do; the trip holds the motors off from now on.
            }
            Volatile.Write(ref _step, _step + 1);
        }
    }

    private void StepCore(long timestamp)
    {
        Commands.Apply(_safety, _step);
        var policy = _policies.AcquireForStep(_step);
        bool sensorsOk = ReadSensors();
        if (sensorsOk)
        {
            _safety.CheckFrame(_frame);
            CountMissedPeriods(_frame.Sequence);
        }

        TaskOutcome outcome = default;
        float logProb = 0;
        if (sensorsOk)
        {
            try
            {
                // An episode begins once the robot is within its limits again and the motors may run.
                if (!_episodeOpen && _readyForEpisode && !_awaitingReset && !_safety.Tripped)
                {
                    _task.BeginEpisode(_frame);
                    _episodeOpen = true;
                }
                outcome = _task.Evaluate(_frame, _dt, _observation);
                logProb = policy.Act(_observation, _normalized, _action, ref _prng);
                RecentObservations.Record(_observation);
            }
            catch (Exception e)
            {
                Volatile.Write(ref _lastFault, e);
                Counters.AddSoftwareFault();
                _safety.Trip(SafetyCause.SoftwareFault);
            }
        }

        _safety.Filter(_observation, _action, outcome.TiltRad, _safeAction);
        Actuate();

        bool inEpisode = _episodeOpen && sensorsOk;
        bool terminated = inEpisode && outcome.Terminated;
        // A safety stop cuts the episode (the robot is no longer under the policy's control).
        bool truncated = inEpisode && !terminated && (_episodeLength + 1 >= _maxEpisodeSteps || _safety.Tripped);
        var flags = TransitionFlags.None;
        if (terminated) flags |= TransitionFlags.Terminated;
        if (truncated) flags |= TransitionFlags.Truncated;
        if (_safety.Tripped) flags |= TransitionFlags.SafetyStop;
        if (!inEpisode) flags |= TransitionFlags.Idle;

        long timeNs = (long)((timestamp - _startTimestamp) * (1e9 / Stopwatch.Frequency));
        long step = _step;
        if (sensorsOk)
        {
            if (_logRing is not null && !_logRing.TryAppend(step, timeNs, _observation, _action, logProb, outcome.Reward, flags))
                Counters.AddLogDrop();
            if (inEpisode)
            {
                if (_rolloutRing is not null && _rolloutRing.TryAppend(step, timeNs, _observation, _action, logProb, outcome.Reward, flags)
                    && (terminated || truncated))
                    _lastEpisodeEndStep = step;
                _episodeReturn += outcome.Reward;
                _episodeLength++;
                if (terminated || truncated)
                {
                    Counters.EndEpisode(_episodeReturn, _episodeLength);
                    _episodeReturn = 0;
                    _episodeLength = 0;
                    _episodeOpen = false;
                    if (_episodeReset is not null)
                    {
                        _awaitingReset = true;
                        _episodeReset.EpisodeEnded();
                    }
                }
            }
            _readyForEpisode = !outcome.Terminated;
            // A stale-sensor trip waits for new data: an upright, still reading from a frozen IMU (or a lost
            // simulator link) must not start an episode.
            bool staleHeld = _safety.Tripped && _safety.Cause == SafetyCause.StaleSensor && !_safety.SensorFresh;
            if (_awaitingReset && _episodeReset!.ReadyForNextEpisode(_frame) && !staleHeld)
            {
                // The robot is back (stood up, or the simulator reset it) and its sensor is fresh again: a tilt or
                // stale-sensor trip is over; e-stop, bus and software faults stay latched.
                _awaitingReset = false;
                _readyForEpisode = true;
                if (_safety.Tripped && _safety.Cause is SafetyCause.Tilt or SafetyCause.StaleSensor)
                    _safety.Rearm();
            }
        }
        Counters.SetEpisodeInProgress(_episodeReturn, _episodeLength);
        Volatile.Write(ref _step, step + 1);
    }

    private void CountMissedPeriods(long sequence)
    {
        if (_lastSequence != long.MinValue)
        {
            long advance = sequence - _lastSequence;
            // The same frame again is one missed period; a jump of k frames skipped k − 1. A sequence that goes
            // back (a restarted simulator) starts the count afresh.
            if (advance == 0) Counters.AddMissedPeriods(1);
            else if (advance > 1) Counters.AddMissedPeriods(advance - 1);
        }
        _lastSequence = sequence;
    }

    private bool ReadSensors()
    {
        for (int attempt = 0; attempt <= _safety.I2cRetries; attempt++)
        {
            try
            {
                _io.Read(_frame);
                return true;
            }
            catch (Exception e)
            {
                Volatile.Write(ref _lastFault, e);
                Counters.AddBusFault();
            }
        }
        _safety.Trip(SafetyCause.BusFault);
        return false;
    }

    private void Actuate()
    {
        if (_safety.Tripped || _awaitingReset)
        {
            _safeAction.AsSpan().Clear();
            // Every step, not once: it re-asserts "off" on the chips, and on a lockstep sim bus the
            // step's writes are what lets the simulator advance. StopMotors never throws (IRobotIo).
            _io.StopMotors();
            return;
        }
        for (int attempt = 0; attempt <= _safety.I2cRetries; attempt++)
        {
            try
            {
                _io.Drive(_safeAction);
                return;
            }
            catch (Exception e)
            {
                Volatile.Write(ref _lastFault, e);
                Counters.AddBusFault();
            }
        }
        _safety.Trip(SafetyCause.BusFault);
        _safeAction.AsSpan().Clear();
        _io.StopMotors();
    }
}
