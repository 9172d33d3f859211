using System.Globalization;

namespace RobotPG.Sim.Devices;

public enum SimFaultKind
{
    /// <summary>The chip at <see cref="SimFault.Address"/> does not acknowledge: its writes are dropped, it is missing from the sensor frame.</summary>
    I2cNack,

    /// <summary>The MPU-6050's register image stops changing (identical 14-byte bursts).</summary>
    ImuFrozen,

    /// <summary>The PCA9685 falls back to its power-on registers once (asleep, every channel full off).</summary>
    PcaBrownout,

    /// <summary>GPIO <see cref="SimFault.Pin"/> keeps its level whatever the controller writes (a dead line).</summary>
    GpioWriteFail,

    /// <summary>Each sensor and actuator frame is lost on the MQTT link with probability <see cref="SimFault.Probability"/>.</summary>
    MqttDrop,

    /// <summary>Each frame arrives twice with probability <see cref="SimFault.Probability"/>.</summary>
    MqttDuplicate,

    /// <summary>Each frame is held back with probability <see cref="SimFault.Probability"/> and arrives after the next one on its topic.</summary>
    MqttReorder,

    /// <summary>Every frame arrives <see cref="SimFault.DelayMs"/> milliseconds late.</summary>
    MqttDelay,

    /// <summary>The embedded broker stops and starts again (same port) once, at actuator frame <see cref="SimFault.FromFrame"/>.</summary>
    BrokerRestart,
}

public enum SimNackMode
{
    /// <summary>The first control tick after the fault switches on only.</summary>
    Once,

    /// <summary>Each control tick with probability <see cref="SimFault.Probability"/> (seeded: reproducible).</summary>
    Intermittent,

    Permanent,
}

/// <summary>
/// One fault <c>robotpg-sim serve --fault SPEC</c> switches on in the register-level emulation:
/// <c>i2c-nack:ADDR:permanent|once|p=P</c>, <c>imu-frozen</c>, <c>pca-brownout</c>,
/// <c>gpio-write-fail:PIN</c>; on the MQTT link between simulator and controller <c>mqtt-drop:p=P</c>,
/// <c>mqtt-dup[:p=P]</c>, <c>mqtt-reorder[:p=P]</c>, <c>mqtt-delay:MS</c> and <c>broker-restart@N</c>; each optionally
/// followed by <c>@N</c> (on from the N-th actuator frame, default 0; required by broker-restart).
/// Over MQTT the controller's reads are served from the sensor frame, so a NACKing chip is one left out
/// of it (the controller's read throws as the Linux driver does on a NACK) and its writes are not applied.
/// </summary>
public sealed record SimFault(SimFaultKind Kind, int Address = 0, SimNackMode Mode = SimNackMode.Permanent,
    double Probability = 1, int Pin = -1, long FromFrame = 0, int DelayMs = 0)
{
    public const string Grammar = "i2c-nack:ADDR:permanent|once|p=P, imu-frozen, pca-brownout, gpio-write-fail:PIN, mqtt-drop:p=P, mqtt-dup[:p=P], mqtt-reorder[:p=P], mqtt-delay:MS or broker-restart@N, optionally followed by @N (from the N-th actuator frame)";

    /// <summary>A fault of the MQTT link (<see cref="SimLink"/>, the broker), not of a chip.</summary>
    public bool IsLinkFault => Kind is SimFaultKind.MqttDrop or SimFaultKind.MqttDuplicate or SimFaultKind.MqttReorder or SimFaultKind.MqttDelay or SimFaultKind.BrokerRestart;

    /// <summary>Parses a spec; null and <paramref name="problem"/> (what is wrong, why) when it is not one.</summary>
    public static SimFault? TryParse(string? spec, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(spec)) return Fail("an empty fault", out problem);
        string body = spec.Trim();
        long from = 0;
        int at = body.IndexOf('@');
        if (at >= 0)
        {
            if (!long.TryParse(body.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out from))
                return Fail($"'{spec}': '@{body[(at + 1)..]}' must be @N, a non-negative actuator frame count", out problem);
            body = body[..at];
        }
        string[] parts = body.Split(':');
        switch (parts[0])
        {
            case "i2c-nack":
                if (parts.Length != 3) return Fail($"'{spec}': i2c-nack takes an address and a mode (i2c-nack:0x40:permanent)", out problem);
                if (!TryAddress(parts[1], out int address))
                    return Fail($"'{spec}': '{parts[1]}' is not a 7-bit I2C address 0x03–0x77", out problem);
                if (parts[2] == "permanent") return new SimFault(SimFaultKind.I2cNack, address, SimNackMode.Permanent, FromFrame: from);
                if (parts[2] == "once") return new SimFault(SimFaultKind.I2cNack, address, SimNackMode.Once, FromFrame: from);
                if (parts[2].StartsWith("p=", StringComparison.Ordinal)
                    && double.TryParse(parts[2].AsSpan(2), NumberStyles.Float, CultureInfo.InvariantCulture, out double p) && p > 0 && p <= 1)
                    return new SimFault(SimFaultKind.I2cNack, address, SimNackMode.Intermittent, p, FromFrame: from);
                return Fail($"'{spec}': '{parts[2]}' must be permanent, once or p=P with 0 < P ≤ 1", out problem);
            case "imu-frozen" when parts.Length == 1:
                return new SimFault(SimFaultKind.ImuFrozen, FromFrame: from);
            case "pca-brownout" when parts.Length == 1:
                return new SimFault(SimFaultKind.PcaBrownout, FromFrame: from);
            case "mqtt-drop" or "mqtt-dup" or "mqtt-reorder":
            {
                var kind = parts[0] switch { "mqtt-drop" => SimFaultKind.MqttDrop, "mqtt-dup" => SimFaultKind.MqttDuplicate, _ => SimFaultKind.MqttReorder };
                if (parts.Length == 1 && kind != SimFaultKind.MqttDrop) return new SimFault(kind, FromFrame: from);
                if (parts.Length == 2 && parts[1].StartsWith("p=", StringComparison.Ordinal)
                    && double.TryParse(parts[1].AsSpan(2), NumberStyles.Float, CultureInfo.InvariantCulture, out double q) && q > 0 && q <= 1)
                    return new SimFault(kind, Probability: q, FromFrame: from);
                return Fail($"'{spec}': {parts[0]} takes {(kind == SimFaultKind.MqttDrop ? "" : "nothing or ")}p=P with 0 < P ≤ 1 ({parts[0]}:p=0.1)", out problem);
            }
            case "mqtt-delay":
                if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int ms) || ms < 1 || ms > 10_000)
                    return Fail($"'{spec}': mqtt-delay takes a delay of 1–10000 milliseconds (mqtt-delay:20)", out problem);
                return new SimFault(SimFaultKind.MqttDelay, DelayMs: ms, FromFrame: from);
            case "broker-restart" when parts.Length == 1:
                if (at < 0) return Fail($"'{spec}': broker-restart needs the actuator frame to restart at (broker-restart@400)", out problem);
                return new SimFault(SimFaultKind.BrokerRestart, FromFrame: from);
            case "gpio-write-fail":
                if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pin) || pin > 63)
                    return Fail($"'{spec}': gpio-write-fail takes one GPIO number 0–63 (gpio-write-fail:17)", out problem);
                return new SimFault(SimFaultKind.GpioWriteFail, Pin: pin, FromFrame: from);
            default:
                return Fail($"'{spec}' is not a fault; expected {Grammar}", out problem);
        }
    }

    private static bool TryAddress(string text, out int address)
    {
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out address)
            : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out address);
        return ok && address >= 0x03 && address <= 0x77;
    }

    private static SimFault? Fail(string message, out string? problem)
    {
        problem = message;
        return null;
    }
}
