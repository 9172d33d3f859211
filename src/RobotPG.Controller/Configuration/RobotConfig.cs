using System.Text.Json;
using System.Text.Json.Serialization;

namespace RobotPG.Controller.Configuration;

// The robot config file (firmware-config/*.json). Every property here is also in
// firmware-config/robotpg.schema.json and vice versa (a test holds the two together).
// Property names are the JSON names (camelCase through the serializer context).

/// <summary>One robot: its task, bus, chips, pins, rates and limits.</summary>
public sealed class RobotConfig
{
    /// <summary>Editors' pointer to the schema; ignored by the controller.</summary>
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>Robot id, the {robotId} of every MQTT topic and the log file prefix.</summary>
    public required string RobotId { get; init; }

    /// <summary>Control steps per second.</summary>
    public required double ControlRateHz { get; init; }

    public required BusConfig Bus { get; init; }

    public required TaskConfig Task { get; init; }

    /// <summary>The IMU; absent on robots without one (the cart-pole reads its pole from an encoder).</summary>
    public ImuConfig? Imu { get; init; }

    /// <summary>The PCA9685 PWM chip, required when a motor takes its PWM from it.</summary>
    public Pca9685Config? Pca9685 { get; init; }

    /// <summary>The SoC's hardware PWM, required when a motor takes its PWM from it.</summary>
    public HardwarePwmConfig? HardwarePwm { get; init; }

    /// <summary>An INA219 battery monitor and the low-voltage rule; absent: no battery check.</summary>
    public BatteryConfig? Battery { get; init; }

    public required MotorConfig[] Motors { get; init; }

    public required EncoderConfig[] Encoders { get; init; }

    public required SafetyConfig Safety { get; init; }

    public required PolicyConfig Policy { get; init; }

    public required LogConfig Log { get; init; }

    public required TelemetryConfig Telemetry { get; init; }

    /// <summary>On-device learning (issue 7); absent: the policy only runs.</summary>
    public LearningConfig? Learning { get; init; }

    /// <summary>How every broker connection is made (TLS, credentials, protocol); absent: plain MQTT 5, no credentials.</summary>
    public MqttConfig? Mqtt { get; init; }

    /// <summary>Who may command the robot and which policies it accepts; absent: only the unsigned e-stop is obeyed.</summary>
    public SecurityConfig? Security { get; init; }
}

public enum MqttProtocolVersion
{
    [JsonStringEnumMemberName("5")] V5,
    [JsonStringEnumMemberName("3.1.1")] V311,
}

/// <summary>Broker connection settings shared by the bus and telemetry connections. Paths are relative to the config file.</summary>
public sealed class MqttConfig
{
    public MqttProtocolVersion ProtocolVersion { get; set; } = MqttProtocolVersion.V5;

    /// <summary>PEM CA certificate the broker's certificate must chain to (mqtts://); absent: the system's trust store.</summary>
    public string? CaFile { get; init; }

    /// <summary>PEM client certificate for mutual TLS, with <see cref="ClientKeyFile"/>.</summary>
    public string? ClientCertFile { get; init; }

    public string? ClientKeyFile { get; init; }

    /// <summary>File with username= and password= lines, mode 0600; never printed.</summary>
    public string? CredentialsFile { get; init; }

    public double KeepAliveSeconds { get; set; } = 10;

    /// <summary>Largest packet the broker may send us, bytes (MQTT 5).</summary>
    public int MaximumPacketSize { get; set; } = 1048576;
}

/// <summary>Operator keys and what must be signed. Paths are relative to the config file.</summary>
public sealed class SecurityConfig
{
    /// <summary>PEM public keys (robotpg-sim key generate) whose signatures the robot obeys.</summary>
    public string[] OperatorKeys { get; set; } = [];

    /// <summary>A command's timestamp may be this far from the robot's clock, seconds.</summary>
    public double CommandWindowSeconds { get; set; } = 30;

    /// <summary>Refuse checkpoints from disk that are not signed by an operator key.</summary>
    public bool RequireSignedCheckpoints { get; set; }
}

public enum BusKind
{
    /// <summary>The Pi's own I2C and GPIO through the kernel drivers.</summary>
    [JsonStringEnumMemberName("pi")] Pi,

    /// <summary>Bus traffic served by the simulator over MQTT.</summary>
    [JsonStringEnumMemberName("sim")] Sim,
}

public enum SimClock
{
    /// <summary>The sim steps only when the actuator frame for its tick arrived (deterministic).</summary>
    [JsonStringEnumMemberName("lockstep")] Lockstep,

    /// <summary>The sim steps on the wall clock.</summary>
    [JsonStringEnumMemberName("realtime")] Realtime,
}

public sealed class BusConfig
{
    public required BusKind Kind { get; init; }

    /// <summary>Linux I2C bus number (/dev/i2c-N); the Pi's header bus is 1.</summary>
    public int I2cBusId { get; set; } = 1;

    /// <summary>MQTT broker of the simulator (sim only), mqtt://host:port.</summary>
    public string? Broker { get; init; }

    /// <summary>Simulator clock (sim only).</summary>
    public SimClock? Clock { get; init; }
}

public enum TaskKind
{
    [JsonStringEnumMemberName("balance-bot")] BalanceBot,
    [JsonStringEnumMemberName("cartpole-rail")] CartpoleRail,
}

/// <summary>What the robot is asked to do: observation, reward and termination.</summary>
public sealed class TaskConfig
{
    public required TaskKind Kind { get; init; }

    /// <summary>The episode terminates past this tilt (pitch of the body or angle of the pole), degrees.</summary>
    public required double DoneTiltDeg { get; init; }

    /// <summary>Episode length cap in control steps (truncation).</summary>
    public required int MaxEpisodeSteps { get; init; }

    /// <summary>Weight of the gyro in the complementary pitch filter (balance-bot), in (0, 1).</summary>
    public double? ComplementaryAlpha { get; init; }

    /// <summary>Name of the encoder on the cart's motor (cartpole-rail).</summary>
    public string? CartEncoder { get; init; }

    /// <summary>Name of the encoder on the pole's pivot (cartpole-rail).</summary>
    public string? PoleEncoder { get; init; }

    /// <summary>Cart travel per revolution of its encoder shaft, metres (cartpole-rail).</summary>
    public double? CartMetersPerRevolution { get; init; }

    /// <summary>The episode terminates when the cart is farther than this from the centre, metres (cartpole-rail).</summary>
    public double? DoneRailM { get; init; }
}

public enum ImuKind
{
    [JsonStringEnumMemberName("mpu6050")] Mpu6050,
    [JsonStringEnumMemberName("bno055")] Bno055,
}

public sealed class ImuConfig
{
    /// <summary>The chip: mpu6050 (default) or bno055.</summary>
    public ImuKind Kind { get; set; } = ImuKind.Mpu6050;

    /// <summary>7-bit I2C address: MPU-6050 0x68 (AD0 low) or 0x69 (AD0 high); BNO055 0x28 or 0x29.</summary>
    public required int Address { get; init; }

    /// <summary>Accelerometer full scale, ±g: 2, 4, 8 or 16.</summary>
    public required int AccelRangeG { get; init; }

    /// <summary>Gyro full scale, ±°/s: 250, 500, 1000 or 2000.</summary>
    public required int GyroRangeDps { get; init; }

    /// <summary>Samples averaged for the gyro bias at start-up (robot still).</summary>
    public required int CalibrationSamples { get; init; }

    /// <summary>How the IMU sits on the body, so pitch and pitch rate can be read from its axes.</summary>
    public required ImuMounting Mounting { get; init; }
}

/// <summary>Which IMU axes point forward and up on the body; pitch turns about the remaining axis.</summary>
public sealed class ImuMounting
{
    public required ImuAxis Forward { get; init; }

    public required ImuAxis Up { get; init; }
}

public enum ImuAxis
{
    [JsonStringEnumMemberName("+x")] PlusX,
    [JsonStringEnumMemberName("-x")] MinusX,
    [JsonStringEnumMemberName("+y")] PlusY,
    [JsonStringEnumMemberName("-y")] MinusY,
    [JsonStringEnumMemberName("+z")] PlusZ,
    [JsonStringEnumMemberName("-z")] MinusZ,
}

public sealed class Pca9685Config
{
    public required int Address { get; init; }

    /// <summary>PWM frequency, Hz; the 25 MHz oscillator and an 8-bit prescale allow 24–1526 Hz.</summary>
    public required double FrequencyHz { get; init; }
}

public sealed class HardwarePwmConfig
{
    /// <summary>PWM chip number (/sys/class/pwm/pwmchipN).</summary>
    public required int Chip { get; init; }

    public required double FrequencyHz { get; init; }
}

/// <summary>The battery monitor: motors off and held off after the voltage stayed low.</summary>
public sealed class BatteryConfig
{
    /// <summary>7-bit I2C address of the INA219, 0x40–0x4F (A0/A1 straps).</summary>
    public required int Ina219Address { get; init; }

    /// <summary>Shunt resistance, Ω.</summary>
    public required double ShuntOhms { get; init; }

    /// <summary>Motors off (held until the controller restarts) once the battery reads below this for <see cref="LowPeriods"/> control periods.</summary>
    public required double MinVolts { get; init; }

    /// <summary>Consecutive control periods below <see cref="MinVolts"/> before the motors go off (motor current sags the voltage briefly).</summary>
    public int LowPeriods { get; set; } = 50;
}

public enum PwmSource
{
    [JsonStringEnumMemberName("pca9685")] Pca9685,
    [JsonStringEnumMemberName("hardware")] Hardware,
}

/// <summary>A DC motor behind an H-bridge: two direction pins and a PWM channel for the duty.</summary>
public sealed class MotorConfig
{
    public required string Name { get; init; }

    public required PwmSource PwmSource { get; init; }

    /// <summary>PCA9685 channel 0–15, or the hardware PWM channel 0–1.</summary>
    public required int PwmChannel { get; init; }

    /// <summary>BCM pin carrying the hardware PWM (12, 13, 18 or 19); hardware PWM only.</summary>
    public int? PwmPin { get; init; }

    /// <summary>H-bridge IN1, BCM numbering.</summary>
    public required int In1Pin { get; init; }

    /// <summary>H-bridge IN2, BCM numbering.</summary>
    public required int In2Pin { get; init; }

    /// <summary>Swaps the direction so that +1 drives the robot forward.</summary>
    public bool Inverted { get; init; }
}

/// <summary>A quadrature encoder on two GPIO pins.</summary>
public sealed class EncoderConfig
{
    public required string Name { get; init; }

    public required int PinA { get; init; }

    public required int PinB { get; init; }

    /// <summary>Quadrature counts per output-shaft revolution (4 × lines × gear ratio).</summary>
    public required int CountsPerRevolution { get; init; }

    public bool Inverted { get; init; }
}

public sealed class SafetyConfig
{
    /// <summary>Largest |action| ever sent to a motor, in (0, 1].</summary>
    public required double MaxAction { get; init; }

    /// <summary>Largest change of an action per second (slew), > 0.</summary>
    public required double MaxActionRatePerS { get; init; }

    /// <summary>Motors off past this tilt, degrees; at least the task's doneTiltDeg.</summary>
    public required double TiltLimitDeg { get; init; }

    /// <summary>Motors off when the sensor sequence has not moved for this many control periods.</summary>
    public required int StaleSensorPeriods { get; init; }

    /// <summary>Retries of a failed bus transfer within one step before the motors go off.</summary>
    public required int I2cRetries { get; init; }
}

public sealed class PolicyConfig
{
    /// <summary>Hidden layer widths of the Gaussian MLP (checked against the checkpoint's).</summary>
    public required int[] HiddenSizes { get; init; }

    /// <summary>Checkpoint to load (relative to the config file); none = the zero policy.</summary>
    public string? Checkpoint { get; init; }

    /// <summary>Act with the mean instead of a sample.</summary>
    public bool Deterministic { get; init; }

    /// <summary>Seed of the action-sampling generator.</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>Where the save and load commands write and read checkpoints (relative to the config file).</summary>
    public string CheckpointDirectory { get; set; } = "checkpoints";

    /// <summary>Guard: a pushed or loaded policy further than this mean KL(running ‖ new) on recent observations is refused.</summary>
    public double MaxKl { get; set; } = 1.0;
}

public sealed class LogConfig
{
    /// <summary>Directory of the trajectory logs (relative to the config file).</summary>
    public required string Directory { get; init; }

    /// <summary>A new log file is started before this size is exceeded, bytes.</summary>
    public required long RotateBytes { get; init; }

    /// <summary>Records the writer ring holds; the loop drops (and counts) records when it is full.</summary>
    public required int RingRecords { get; init; }

    /// <summary>fsync after this many records (0: not on this rule).</summary>
    public int SyncEveryRecords { get; set; } = 200;

    /// <summary>fsync once this many milliseconds passed since the last one (0: not on this rule).</summary>
    public int SyncEveryMs { get; set; } = 1000;
}

public sealed class TelemetryConfig
{
    public required bool Enabled { get; init; }

    /// <summary>mqtt://host:port; defaults to the bus broker for a sim bus.</summary>
    public string? Broker { get; init; }

    /// <summary>Publications per second, ≤ the control rate.</summary>
    public required double RateHz { get; init; }
}

/// <summary>The learner thread: algorithm, batch, guards, checkpoints, and the reset condition between episodes. Absent values take the schema's defaults (applied by the learner).</summary>
public sealed class LearningConfig
{
    /// <summary>ppo, ppo-kl, npg, trpo, a2c, vpg, reinforce or off.</summary>
    public required string Algorithm { get; init; }

    /// <summary>Transitions per update.</summary>
    public int? BatchSteps { get; init; }

    /// <summary>Policy learning rate; absent: the algorithm's preset.</summary>
    public double? LearningRate { get; init; }

    /// <summary>Log std of a fresh policy's action noise; absent: the network's 0 (a loaded policy keeps its own).</summary>
    public double? InitialLogStd { get; init; }

    /// <summary>Batches each update trains on (the current and the K − 1 before it); absent: 1, on-policy.</summary>
    public int? ReplayBatches { get; init; }

    /// <summary>Critic layer widths.</summary>
    public int[]? ValueHiddenSizes { get; init; }

    /// <summary>Guard: an update with a larger mean KL(old ‖ new) is rolled back.</summary>
    public double? MaxKl { get; init; }

    /// <summary>Guard: episodes a new policy runs before its return is judged (0: off).</summary>
    public int EvaluationEpisodes { get; init; }

    /// <summary>Guard: largest tolerated drop of the mean return, as a fraction of |old mean| (at least 1).</summary>
    public double? ReturnDropMargin { get; init; }

    /// <summary>Directory of the learner's last two checkpoints (relative to the config file).</summary>
    public string? CheckpointDirectory { get; init; }

    public int? CheckpointEveryUpdates { get; init; }

    public int? CheckpointEveryEpisodes { get; init; }

    /// <summary>Reset condition: within this tilt of upright (accelerometer), degrees.</summary>
    public double? ResetUprightDeg { get; init; }

    /// <summary>Reset condition: body rotation rate below this, rad/s.</summary>
    public double? ResetStillRadPerS { get; init; }

    /// <summary>Reset condition: held this long, seconds (0 in the simulator, which resets the robot itself).</summary>
    public double? ResetHoldSeconds { get; init; }

    /// <summary>local (default): learn on the robot; fleet: publish rollouts to the fleet learners and run their policies.</summary>
    public string? Mode { get; init; }

    /// <summary>The fleet's broker, name and guards (mode fleet).</summary>
    public FleetConfig? Fleet { get; init; }
}

/// <summary>Fleet learning (learning.mode fleet): where rollouts go and which broadcast policies the robot takes.</summary>
public sealed class FleetConfig
{
    /// <summary>mqtt://host:port of the fleet's broker (cluster).</summary>
    public required string Broker { get; init; }

    /// <summary>Fleet name: the policy topic is robotpg/fleet/{name}/policy.</summary>
    public required string Name { get; init; }

    /// <summary>Operator public key (PEM) that must have signed a broadcast policy; relative to the config.</summary>
    public required string OperatorPublicKey { get; init; }

    /// <summary>Transitions per published rollout batch.</summary>
    public int? BatchTransitions { get; init; }

    /// <summary>Guard: a broadcast policy further than this mean KL from the running one is refused.</summary>
    public double? MaxKl { get; init; }
}

// Properties with a default are `set`, not `init`: the source generator builds objects that have
// `required` members with one object initializer that assigns every init-only property, so an absent
// init-only field would become 0 instead of its default (ConfigDefaultsTests).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false,
    UseStringEnumConverter = true,
    NumberHandling = JsonNumberHandling.Strict,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(RobotConfig))]
internal sealed partial class RobotConfigJsonContext : JsonSerializerContext;
