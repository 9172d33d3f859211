using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Hardware;

namespace RobotPG.Controller.Hosting;

/// <summary>The robot as the loop gets it: its I/O and the clock that paces its steps.</summary>
public abstract class RobotConnection : IDisposable
{
    public abstract IRobotIo Io { get; }

    public abstract IStepClock Clock { get; }

    /// <summary>One line for the start-up banner.</summary>
    public abstract string Description { get; }

    /// <summary>Called after the loop stopped the motors: make sure the motors-off writes reached the robot.</summary>
    public virtual void FlushActuators()
    {
    }

    public abstract void Dispose();
}

/// <summary>The real Pi: drivers on /dev/i2c-N, the GPIO chip and sysfs PWM (or a dry run's fakes of them), paced by the wall clock.</summary>
public sealed class PiRobotConnection : RobotConnection
{
    private readonly DriverRobotIo _io;

    public PiRobotConnection(RobotConfig config, IRobotBus? dryRunBus = null)
    {
        _io = new DriverRobotIo(DriverOptionsMapping.ToDriverOptions(config) with
        {
            // The PCA9685 is read back about 4 times a second to catch a brown-out reset.
            Pca9685CheckEveryReads = Math.Max(1, (int)(config.ControlRateHz / 4)),
        }, dryRunBus ?? new PiRobotBus());
        Description = (dryRunBus is null ? "" : "dry run (register fakes, no pin touched) of ") + $"Pi: I2C bus {config.Bus.I2cBusId}, {config.Motors.Length} motor(s), {config.Encoders.Length} encoder(s)";
    }

    public override IRobotIo Io => _io;

    public override IStepClock Clock { get; } = new RealTimeClock();

    public override string Description { get; }

    public override void Dispose() => _io.Dispose();
}
