using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.OdeSolvers;
using RobotPG.Sim.Robots;
using Xunit;

namespace RobotPG.Sim.Tests.Robots;

public class BalanceBotPhysicsTests
{
    private const double Dt = 1e-3;

    [Fact]
    public void ConservesEnergyWithoutFrictionOrMotorOver10Seconds()
    {
        var p = PhysicsTestConfigs.IdealBalanceBot();
        var physics = new BalanceBotPhysics(p) { LeftBridge = BridgeState.Coast, RightBridge = BridgeState.Coast };
        physics.Reset(pitch: 0.3, pitchRate: 0);
        physics.State[BalanceBotPhysics.WheelDifferenceRate] = 2.0; // spinning too, so the yaw part is exercised
        double e0 = physics.Energy();
        double scale = p.BodyMass * p.Gravity * p.ComHeight; // the energy swing of a full fall
        double maxDrift = 0, maxPitch = 0;
        for (int i = 0; i < 10_000; i++)
        {
            physics.Step(Dt);
            maxDrift = Math.Max(maxDrift, Math.Abs(physics.Energy() - e0));
            maxPitch = Math.Max(maxPitch, Math.Abs(physics.State[BalanceBotPhysics.Pitch]));
        }
        // No floor in the bare model: the body swings right round, a hard test of the integrator.
        Assert.True(maxPitch > Math.PI, $"the body should swing through the bottom, max |θ| = {maxPitch}");
        // RK4 at 1 kHz: measured max drift 8.3e-8 of M·g·l over 10 s (the fast phases of the swing dominate); bound 1e-6.
        Assert.True(maxDrift < 1e-6 * scale, $"energy drift {maxDrift / scale:E2} of M·g·l");
    }

    [Fact]
    public void SmallAngleFallMatchesTheLinearisedClosedForm()
    {
        var p = PhysicsTestConfigs.IdealBalanceBot();
        var physics = new BalanceBotPhysics(p) { LeftBridge = BridgeState.Coast, RightBridge = BridgeState.Coast };
        const double theta0 = 1e-3;
        physics.Reset(theta0, 0);
        // Linearised without input: [a r², M l r; M l r, J]·[φ̈; θ̈] = [0; M g l θ] ⇒ θ̈ = λ²θ, λ² = a M g l / (a J − M² l²).
        double a = p.BodyMass + 2 * p.WheelMass + 2 * p.WheelInertia / (p.WheelRadius * p.WheelRadius);
        double j = p.BodyMass * p.ComHeight * p.ComHeight + p.BodyPitchInertia;
        double lambda = Math.Sqrt(a * p.BodyMass * p.Gravity * p.ComHeight / (a * j - Math.Pow(p.BodyMass * p.ComHeight, 2)));
        for (int i = 1; i <= 300; i++)
        {
            physics.Step(Dt);
            double expected = theta0 * Math.Cosh(lambda * i * Dt);
            // θ stays below ~0.05 rad: the neglected sin/cos terms are O(θ²) ≈ 3e-3 relative; allow 5e-3.
            Assert.True(Math.Abs(physics.State[BalanceBotPhysics.Pitch] - expected) <= 5e-3 * expected,
                $"t={i * Dt}: θ={physics.State[BalanceBotPhysics.Pitch]} vs linearised {expected}");
        }
    }

    [Fact]
    public void DrivenSmallAngleResponseMatchesTheLinearisedModel()
    {
        var p = PhysicsTestConfigs.IdealBalanceBot(viscous: 2e-4);
        const double duty = 0.008;
        var physics = new BalanceBotPhysics(p)
        {
            LeftBridge = BridgeState.Forward, RightBridge = BridgeState.Forward, LeftDuty = duty, RightDuty = duty,
        };
        physics.Reset(0.01, 0);

        // Independent linear model in (θ, θ̇, φ, φ̇): each motor gives τ = d·η·n·k·(V − k·n·ω)/R − b·ω, ω = φ̇ − θ̇.
        var m = p.Motor;
        double u0 = 2 * duty * m.GearEfficiency * m.GearRatio * m.TorqueConstant * m.BatteryVoltage / m.WindingResistance;
        double c = 2 * (duty * m.GearEfficiency * Math.Pow(m.GearRatio * m.TorqueConstant, 2) / m.WindingResistance + m.ViscousFriction);
        double r = p.WheelRadius;
        double a = p.BodyMass + 2 * p.WheelMass + 2 * p.WheelInertia / (r * r);
        var mass = Matrix<double>.Build.DenseOfArray(new[,]
        {
            { a * r * r, p.BodyMass * p.ComHeight * r },
            { p.BodyMass * p.ComHeight * r, p.BodyMass * p.ComHeight * p.ComHeight + p.BodyPitchInertia },
        });
        var inverse = mass.Inverse();
        Func<double, Vector<double>, Vector<double>> linear = (_, y) =>
        {
            double theta = y[0], thetaDot = y[1], phiDot = y[3];
            double tau = u0 - c * (phiDot - thetaDot);
            var q = Vector<double>.Build.DenseOfArray([tau, -tau + p.BodyMass * p.Gravity * p.ComHeight * theta]);
            var acc = inverse * q; // [φ̈, θ̈]
            return Vector<double>.Build.DenseOfArray([thetaDot, acc[1], phiDot, acc[0]]);
        };
        const int steps = 150;
        var reference = RungeKutta.FourthOrder(Vector<double>.Build.DenseOfArray([0.01, 0, 0, 0]), 0, steps * Dt, steps + 1, linear);

        double maxTheta = 0, maxError = 0, maxWheel = 0, maxWheelError = 0;
        for (int i = 1; i <= steps; i++)
        {
            physics.Step(Dt);
            maxTheta = Math.Max(maxTheta, Math.Abs(reference[i][0]));
            maxError = Math.Max(maxError, Math.Abs(physics.State[BalanceBotPhysics.Pitch] - reference[i][0]));
            maxWheel = Math.Max(maxWheel, Math.Abs(reference[i][2]));
            maxWheelError = Math.Max(maxWheelError, Math.Abs(physics.State[BalanceBotPhysics.WheelAngle] - reference[i][2]));
        }
        Assert.True(maxTheta < 0.06, $"the check is only meaningful at small angles, max |θ| = {maxTheta}");
        // O(θ²) nonlinearity at |θ| ≤ 0.06: ≤ 0.4 % of the swing (measured 0.1 %); allow 1 %.
        Assert.True(maxError < 0.01 * maxTheta, $"max |θ − θ_lin| = {maxError} against max |θ| = {maxTheta}");
        Assert.True(maxWheel > 0.05 && maxWheelError < 0.01 * maxWheel, $"max |φ − φ_lin| = {maxWheelError} against max |φ| = {maxWheel}");
    }

    [Fact]
    public void MotorTorqueCurveHasTheDatasheetShape()
    {
        var motor = new DcGearMotor(7.4, 2.8, 0.0055, 34, 0.8, 0, 0, 0, 1e9);
        // Stall: η n k V/R; no-load speed: V/(k n).
        Assert.Equal(0.8 * 34 * 0.0055 * 7.4 / 2.8, motor.OutputTorque(BridgeState.Forward, 1.0, 0), 12);
        Assert.Equal(0.0, motor.OutputTorque(BridgeState.Forward, 1.0, 7.4 / (0.0055 * 34)), 12);
        Assert.Equal(-motor.OutputTorque(BridgeState.Forward, 1.0, 0), motor.OutputTorque(BridgeState.Reverse, 1.0, 0), 12);
        Assert.Equal(0.0, motor.OutputTorque(BridgeState.Coast, 1.0, 10), 12);
        Assert.True(motor.OutputTorque(BridgeState.Brake, 1.0, 10) < 0); // braking opposes motion
        var limited = motor with { MaxCurrent = 1.0, DeadbandDuty = 0.1 };
        Assert.Equal(0.8 * 34 * 0.0055 * 1.0, limited.OutputTorque(BridgeState.Forward, 1.0, 0), 12);
        Assert.Equal(0.0, limited.OutputTorque(BridgeState.Forward, 0.05, 0), 12);
    }
}

public class CartpoleRailPhysicsTests
{
    [Fact]
    public void ConservesEnergyWithoutFrictionOrMotor()
    {
        var config = PhysicsTestConfigs.Load("cartpole-rail");
        var p = new CartpoleRailParameters(config.Gravity, config.Cart!.Mass, config.Pole!.Mass, config.Pole.ComDistance, config.Pole.Inertia,
            config.Cart.PulleyRadius, 0, 0, 1e9, config.Motor.ToModel() with { ViscousFriction = 0, CoulombFriction = 0 });
        var physics = new CartpoleRailPhysics(p) { Bridge = BridgeState.Coast };
        physics.Reset(0, 0.5, 0);
        double e0 = physics.Energy();
        double scale = p.PoleMass * p.Gravity * p.PoleComDistance;
        double maxDrift = 0;
        for (int i = 0; i < 10_000; i++)
        {
            physics.Step(1e-3);
            maxDrift = Math.Max(maxDrift, Math.Abs(physics.Energy() - e0));
        }
        // Measured 5.4e-11 of m·g·l.
        Assert.True(maxDrift < 1e-6 * scale, $"energy drift {maxDrift / scale:E2} of m·g·l");
    }

    [Fact]
    public void HangingPoleOscillatesAtTheLinearisedFrequency()
    {
        var config = PhysicsTestConfigs.Load("cartpole-rail");
        var p = new CartpoleRailParameters(config.Gravity, config.Cart!.Mass, config.Pole!.Mass, config.Pole.ComDistance, config.Pole.Inertia,
            config.Cart.PulleyRadius, 0, 0, 1e9, config.Motor.ToModel() with { ViscousFriction = 0, CoulombFriction = 0 });
        var physics = new CartpoleRailPhysics(p) { Bridge = BridgeState.Coast };
        const double amplitude = 1e-3;
        physics.Reset(0, Math.PI + amplitude, 0);
        // Hanging, free cart: ω² = (m_c + m_p) m g l / ((m_c + m_p) J − m² l²).
        double ml = p.PoleMass * p.PoleComDistance;
        double j = ml * p.PoleComDistance + p.PoleInertia;
        double omega = Math.Sqrt((p.CartMass + p.PoleMass) * ml * p.Gravity / ((p.CartMass + p.PoleMass) * j - ml * ml));
        for (int i = 1; i <= 2000; i++)
        {
            physics.Step(1e-3);
            double expected = amplitude * Math.Cos(omega * i * 1e-3);
            Assert.Equal(expected, physics.State[CartpoleRailPhysics.PoleAngle] - Math.PI, 1e-3 * amplitude + 1e-9);
        }
    }
}
