using RobotPG.Messaging;

namespace RobotPG.Sim.Serving;

public enum SimClockMode
{
    /// <summary>Tick k+1 is computed only after the actuator frame answering tick k arrived: deterministic.</summary>
    Lockstep,

    /// <summary>Ticks on the wall clock; the latest actuator frame (after the actuation latency) is applied.</summary>
    Realtime,
}

/// <summary>How to run a <see cref="SimulationServer"/>.</summary>
public sealed record SimulationServerOptions
{
    /// <summary>"balance-bot" or "cartpole-rail".</summary>
    public string Robot { get; init; } = "balance-bot";

    /// <summary>The {robotId} of the topics; defaults to the robot name.</summary>
    public string? RobotId { get; init; }

    /// <summary>Seeds the robot's initial states, sensor noise and randomisation.</summary>
    public ulong Seed { get; init; } = 1;

    public SimClockMode Clock { get; init; } = SimClockMode.Lockstep;

    /// <summary>An external broker; null hosts the embedded broker on 127.0.0.1:<see cref="EmbeddedPort"/>.</summary>
    public MqttEndpoint? Broker { get; init; }

    /// <summary>Port of the embedded broker; 0 lets the OS choose (see <see cref="SimulationServer.BrokerPort"/>).</summary>
    public int EmbeddedPort { get; init; }

    /// <summary>Embedded broker: the one username/password every client must give (both or neither).</summary>
    public string? EmbeddedUserName { get; init; }

    public string? EmbeddedPassword { get; init; }

    /// <summary>Embedded broker: speak TLS only, with this certificate (with its private key).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? EmbeddedCertificate { get; init; }

    /// <summary>Embedded TLS broker: the CA file the simulator's own client trusts its certificate by.</summary>
    public string? EmbeddedCaFile { get; init; }

    /// <summary>Realtime only: an actuator frame takes effect this long after it arrived.</summary>
    public TimeSpan ActuationLatency { get; init; }

    /// <summary>Scales the IMU noise of the physics file (0 = perfect sensor).</summary>
    public double SensorNoiseScale { get; init; } = 1.0;

    /// <summary>Draw new physical parameters (domain randomisation) at every reset.</summary>
    public bool RandomizeOnReset { get; init; }

    /// <summary>Publish the ground truth (binary) on robotpg/{id}/truth every tick.</summary>
    public bool PublishTruth { get; init; } = true;

    /// <summary>Period of the JSON status on robotpg/{id}/telemetry/sim.</summary>
    public TimeSpan StatusPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Lockstep: the current sensor frame is published again when no answer came for this long (late subscribers).</summary>
    public TimeSpan LockstepRepublish { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Folder of the physics files; null = robots/ next to the executable.</summary>
    public string? PhysicsDirectory { get; init; }

    /// <summary>Faults switched on in the register-level emulation (<c>--fault</c>).</summary>
    public IReadOnlyList<RobotPG.Sim.Devices.SimFault> Faults { get; init; } = [];

    /// <summary>Overrides the physics file's control rate (must match the controller config's controlRateHz).</summary>
    public double? ControlRateHz { get; init; }
}
