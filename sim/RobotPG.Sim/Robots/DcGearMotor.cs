namespace RobotPG.Sim.Robots;

/// <summary>What the H-bridge does to the motor's terminals.</summary>
public enum BridgeState : byte
{
    /// <summary>Both legs off (IN1 = IN2 = low, or PWM stopped): no current, the motor spins freely.</summary>
    Coast,
    /// <summary>+battery across the winding for the PWM on-fraction.</summary>
    Forward,
    /// <summary>−battery across the winding for the PWM on-fraction.</summary>
    Reverse,
    /// <summary>Winding shorted (IN1 = IN2 = high) for the PWM on-fraction: back-EMF drives a braking current.</summary>
    Brake,
}

/// <summary>
/// A brushed DC gear motor behind an H-bridge, electrical time constant neglected (L/R ≪ a control
/// period). During the PWM on-fraction the winding sees ±battery (or a short when braking); during
/// the off-fraction the bridge coasts and no current flows (fast decay). Averaged over a PWM period:
/// i = (V − k·n·ω)/R clamped to ±MaxCurrent, output torque = d·η·n·k·i − b·ω − c·tanh(ω/ω_c), where
/// ω is the output (wheel) speed relative to the motor's housing and d the duty past the deadband.
/// </summary>
public readonly record struct DcGearMotor(
    double BatteryVoltage,
    double WindingResistance,
    double TorqueConstant,
    double GearRatio,
    double GearEfficiency,
    double ViscousFriction,
    double CoulombFriction,
    double DeadbandDuty,
    double MaxCurrent)
{
    /// <summary>Speed scale of the smooth Coulomb friction (rad/s): tanh keeps RK4 smooth through zero speed.</summary>
    public const double CoulombSmoothing = 0.05;

    /// <summary>Winding current averaged over the on-fraction, A.</summary>
    public double Current(BridgeState state, double duty, double outputSpeed)
    {
        if (state == BridgeState.Coast || duty <= DeadbandDuty) return 0.0;
        double voltage = state switch
        {
            BridgeState.Forward => BatteryVoltage,
            BridgeState.Reverse => -BatteryVoltage,
            _ => 0.0,
        };
        double current = (voltage - TorqueConstant * GearRatio * outputSpeed) / WindingResistance;
        return Math.Clamp(current, -MaxCurrent, MaxCurrent);
    }

    /// <summary>Torque on the output shaft, N·m, including gearbox friction.</summary>
    public double OutputTorque(BridgeState state, double duty, double outputSpeed)
    {
        double d = Math.Clamp(duty, 0.0, 1.0);
        double drive = d * GearEfficiency * GearRatio * TorqueConstant * Current(state, d, outputSpeed);
        return drive - ViscousFriction * outputSpeed - CoulombFriction * Math.Tanh(outputSpeed / CoulombSmoothing);
    }

    /// <summary>The same motor with its constants scaled (domain randomisation).</summary>
    public DcGearMotor Scaled(double torqueConstantFactor, double resistanceFactor, double frictionFactor) => this with
    {
        TorqueConstant = TorqueConstant * torqueConstantFactor,
        WindingResistance = WindingResistance * resistanceFactor,
        ViscousFriction = ViscousFriction * frictionFactor,
        CoulombFriction = CoulombFriction * frictionFactor,
    };
}
