using RobotPG.Controller.Configuration;
using RobotPG.Hardware;

namespace RobotPG.Controller.Control;

/// <summary>Why the safety supervisor holds the motors off.</summary>
public enum SafetyCause
{
    Tilt,
    StaleSensor,
    NonFinite,
    BusFault,
    EmergencyStop,
    /// <summary>The task or the policy threw.</summary>
    SoftwareFault,
    Shutdown,
    /// <summary>An operator's signed stop command holds the motors off until a signed start.</summary>
    OperatorHold,
    /// <summary>The battery stayed below battery.minVolts: the motors stay off until the controller restarts (nothing re-arms it).</summary>
    LowBattery,
}

/// <summary>
/// Control step 5: bounds every action (clamp to ±maxAction, slew at most maxActionRatePerS) and
/// latches the motors off on any stop condition — tilt past the limit, a sensor sequence that has
/// not moved for N periods, NaN/∞ in the frame, the observation or the action, a bus fault that
/// outlived its retries, an exception from task or policy, an e-stop command. Once tripped it stays
/// tripped until <see cref="Rearm"/>. Everything but <see cref="RequestEmergencyStop"/> and the
/// counters belongs to the control thread.
/// </summary>
public sealed class SafetySupervisor
{
    private static readonly int CauseCount = Enum.GetValues<SafetyCause>().Length;

    private readonly float _maxAction;
    private readonly float _maxDeltaPerStep;
    private readonly float _tiltLimitRad;
    private readonly int _stalePeriods;
    private readonly float _minBatteryVolts;
    private readonly int _lowBatteryPeriods;
    private int _lowBatteryCount;
    private readonly float[] _previous;
    private readonly long[] _events;
    private volatile bool _emergencyStop;
    private long _lastSequence = long.MinValue;
    private int _unchangedPeriods;
    private int _tripped = -1;
    private int _clearPeriods;
    private long _rearms;

    public SafetySupervisor(SafetyConfig config, double controlRateHz, int actionSize, BatteryConfig? battery = null)
    {
        _minBatteryVolts = battery is null ? 0f : (float)battery.MinVolts;
        _lowBatteryPeriods = battery?.LowPeriods ?? 0;
        _maxAction = (float)config.MaxAction;
        _maxDeltaPerStep = (float)(config.MaxActionRatePerS / controlRateHz);
        _tiltLimitRad = (float)(config.TiltLimitDeg * Math.PI / 180);
        _stalePeriods = config.StaleSensorPeriods;
        I2cRetries = config.I2cRetries;
        _previous = new float[actionSize];
        _events = new long[CauseCount];
    }

    /// <summary>Retries of a failed bus transfer within one step.</summary>
    public int I2cRetries { get; }

    public bool Tripped => Volatile.Read(ref _tripped) >= 0;

    /// <summary>The cause of the current trip (meaningful while <see cref="Tripped"/>).</summary>
    public SafetyCause Cause => (SafetyCause)Math.Max(0, Volatile.Read(ref _tripped));

    /// <summary>How many times each cause has tripped the supervisor (any thread may read).</summary>
    public long Events(SafetyCause cause) => Interlocked.Read(ref _events[(int)cause]);

    /// <summary>Any thread (command topic, signal handler): motors off at the next step.</summary>
    public void RequestEmergencyStop() => _emergencyStop = true;

    /// <summary>An e-stop was requested and not cleared (it trips the next step, or holds a trip).</summary>
    public bool EmergencyStopRequested => _emergencyStop;

    /// <summary>
    /// The recovery policy: bus faults past their retries, NaN/∞ and software faults do not clear by
    /// themselves, so the loop ends and the process exits non-zero (systemd restarts it). Tilt and stale
    /// sensor re-arm when clear; an e-stop holds until an operator's signed clear-estop (or a restart).
    /// </summary>
    public static bool IsFatal(SafetyCause cause) => cause is SafetyCause.BusFault or SafetyCause.NonFinite or SafetyCause.SoftwareFault;

    /// <summary>
    /// Control without a learner: a tilt or stale-sensor trip re-arms after this many consecutive periods
    /// upright (within the tilt limit) on fresh data; 0: never (the learner's episode reset re-arms instead).
    /// </summary>
    public int AutoRearmPeriods { get; set; }

    /// <summary>The last frame checked was new data (its sequence moved). Control thread.</summary>
    public bool SensorFresh => _unchangedPeriods == 0;

    /// <summary>Re-arms so far (any thread may read).</summary>
    public long Rearms => Interlocked.Read(ref _rearms);

    /// <summary>
    /// Clears a trip; the next action slews up from zero. An e-stop request stays pending unless the
    /// e-stop is what is being cleared: a tilt re-arm must not swallow an e-stop that arrived meanwhile.
    /// </summary>
    public void Rearm()
    {
        if (Tripped && Cause == SafetyCause.EmergencyStop)
            _emergencyStop = false;
        Array.Clear(_previous);
        _unchangedPeriods = 0;
        _clearPeriods = 0;
        Interlocked.Increment(ref _rearms);
        Volatile.Write(ref _tripped, -1);
    }

    /// <summary>Control thread: an operator's clear-estop; drops the request and re-arms if the e-stop is what tripped.</summary>
    public void ClearEmergencyStop()
    {
        _emergencyStop = false;
        if (Tripped && Cause == SafetyCause.EmergencyStop)
            Rearm();
    }

    public void Trip(SafetyCause cause)
    {
        if (Tripped)
            return;
        Interlocked.Increment(ref _events[(int)cause]);
        Volatile.Write(ref _tripped, (int)cause);
    }

    /// <summary>Checks a fresh frame: sequence still moving, every value finite.</summary>
    public void CheckFrame(SensorFrame frame)
    {
        if (frame.Sequence == _lastSequence)
        {
            if (++_unchangedPeriods >= _stalePeriods)
                Trip(SafetyCause.StaleSensor);
        }
        else
        {
            _unchangedPeriods = 0;
            _lastSequence = frame.Sequence;
        }
        if (_lowBatteryPeriods > 0)
        {
            // Consecutive periods only: a motor's start-up current sags the voltage for a moment.
            _lowBatteryCount = frame.BatteryVolts < _minBatteryVolts ? _lowBatteryCount + 1 : 0;
            if (_lowBatteryCount >= _lowBatteryPeriods)
                Trip(SafetyCause.LowBattery);
        }
        bool finite = float.IsFinite(frame.AccelX) && float.IsFinite(frame.AccelY) && float.IsFinite(frame.AccelZ)
            && float.IsFinite(frame.GyroX) && float.IsFinite(frame.GyroY) && float.IsFinite(frame.GyroZ)
            && AllFinite(frame.EncoderVelocity);
        if (!finite)
            Trip(SafetyCause.NonFinite);
    }

    /// <summary>
    /// A period with no frame at all (a lockstep simulator silent for the clock's whole wait): it counts toward the
    /// stale-sensor rule as an unchanged frame does; the next fresh frame clears the count.
    /// </summary>
    public void CheckNoFrame()
    {
        if (++_unchangedPeriods >= _stalePeriods)
            Trip(SafetyCause.StaleSensor);
    }

    /// <summary>
    /// Turns the policy's action into the one sent to the motors: zero when tripped (or tripping
    /// now), otherwise clamped and slew-limited against the previous safe action.
    /// </summary>
    public void Filter(ReadOnlySpan<float> observation, ReadOnlySpan<float> action, float tiltRad, Span<float> safe)
    {
        if (_emergencyStop)
            Trip(SafetyCause.EmergencyStop);
        if (!float.IsFinite(tiltRad) || !AllFinite(observation) || !AllFinite(action))
            Trip(SafetyCause.NonFinite);
        else if (MathF.Abs(tiltRad) > _tiltLimitRad)
            Trip(SafetyCause.Tilt);

        if (Tripped && AutoRearmPeriods > 0 && Cause is SafetyCause.Tilt or SafetyCause.StaleSensor)
        {
            bool clear = !_emergencyStop && _unchangedPeriods == 0 && float.IsFinite(tiltRad) && MathF.Abs(tiltRad) <= _tiltLimitRad;
            _clearPeriods = clear ? _clearPeriods + 1 : 0;
            if (_clearPeriods >= AutoRearmPeriods)
            {
                Rearm();
                // This step still sends zero; the next one slews up from it.
                safe.Clear();
                return;
            }
        }
        if (Tripped)
        {
            safe.Clear();
            _previous.AsSpan().Clear();
            return;
        }
        for (int j = 0; j < safe.Length; j++)
        {
            float a = Math.Clamp(action[j], -_maxAction, _maxAction);
            float previous = _previous[j];
            a = Math.Clamp(a, previous - _maxDeltaPerStep, previous + _maxDeltaPerStep);
            safe[j] = a;
            _previous[j] = a;
        }
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
                return false;
        }
        return true;
    }
}
