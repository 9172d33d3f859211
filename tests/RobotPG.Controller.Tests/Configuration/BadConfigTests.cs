using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tests.Configuration;

/// <summary>
/// Each row breaks one thing in the good sim config and names the exact JSON path and reason the
/// loader must report, and that the loader reports nothing else.
/// </summary>
public sealed class BadConfigTests
{
    public sealed record Case(string Name, Action<JsonObject> Break, string Path, string Reason)
    {
        public override string ToString() => Name;
    }

    private static JsonObject Good(string file = "balance-bot.sim.json") =>
        JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig(file)))!.AsObject();

    private static JsonObject O(JsonNode n, string key) => n[key]!.AsObject();

    private static JsonObject Motor(JsonObject c, int i) => c["motors"]![i]!.AsObject();

    private static JsonObject Encoder(JsonObject c, int i) => c["encoders"]![i]!.AsObject();

    public static readonly Case[] Cases =
    [
        new("unknown top-level property", c => c["contolRateHz"] = 100, "$.contolRateHz", "unknown property"),
        new("unknown nested property", c => O(c, "imu")["adress"] = 104, "$.imu.adress", "unknown property"),
        new("missing required", c => c.Remove("safety"), "$.safety", "required property is missing"),
        new("missing nested required", c => O(c, "imu").Remove("mounting"), "$.imu.mounting", "required property is missing"),
        new("wrong type", c => c["controlRateHz"] = "fast", "$.controlRateHz", "expected a number, got the string \"fast\""),
        new("integer expected", c => Motor(c, 0)["in1Pin"] = 5.5, "$.motors[0].in1Pin", "expected an integer, got the number 5.5"),
        new("rate zero", c => c["controlRateHz"] = 0, "$.controlRateHz", "0 must be greater than 0"),
        new("rate above 1 kHz", c => c["controlRateHz"] = 2000, "$.controlRateHz", "2000 is above the maximum 1000"),
        new("BCM pin out of range", c => Encoder(c, 0)["pinA"] = 28, "$.encoders[0].pinA", "28 is above the maximum 27"),
        new("negative pin", c => Motor(c, 1)["in2Pin"] = -1, "$.motors[1].in2Pin", "-1 is below the minimum 0"),
        new("pin used twice", c => Encoder(c, 1)["pinA"] = 17, "$.encoders[1].pinA", "GPIO 17 is already used by $.encoders[0].pinA"),
        new("pin shared by motor and encoder", c => Encoder(c, 0)["pinB"] = 6, "$.encoders[0].pinB", "GPIO 6 is already used by $.motors[0].in2Pin"),
        new("pin is I2C SDA", c => Motor(c, 0)["in1Pin"] = 2, "$.motors[0].in1Pin", "GPIO 2 is already used by I2C1 SDA"),
        new("I2C address below 0x03", c => O(c, "pca9685")["address"] = 2, "$.pca9685.address", "2 is below the minimum 3"),
        new("I2C address above 0x77", c => O(c, "pca9685")["address"] = 0x78, "$.pca9685.address", "120 is above the maximum 119"),
        new("I2C address shared", c => O(c, "pca9685")["address"] = 0x68, "$.pca9685.address", "0x68 is already used by $.imu.address"),
        new("not an MPU-6050 address", c => O(c, "imu")["address"] = 0x50, "$.imu.address", "0x50 is not an MPU-6050 address (0x68 with AD0 low, 0x69 with AD0 high)"),
        new("enum value", c => O(c, "imu")["accelRangeG"] = 3, "$.imu.accelRangeG", "3 is not one of 2, 4, 8, 16"),
        new("string enum value", c => O(c, "bus")["clock"] = "fast", "$.bus.clock", "\"fast\" is not one of \"lockstep\", \"realtime\""),
        new("sim bus without broker", c => O(c, "bus").Remove("broker"), "$.bus.broker", "required when bus.kind is \"sim\""),
        new("broker not mqtt://", c => O(c, "bus")["broker"] = "tcp://localhost:1883", "$.bus.broker", "\"tcp://localhost:1883\" is not of the expected form: mqtt://host:port"),
        new("pi bus with clock", c => { O(c, "bus")["kind"] = "pi"; O(c, "bus").Remove("broker"); O(c, "telemetry")["broker"] = "mqtt://127.0.0.1:1883"; }, "$.bus.clock", "only allowed when bus.kind is \"sim\""),
        new("pi telemetry without broker", c => { O(c, "bus")["kind"] = "pi"; O(c, "bus").Remove("broker"); O(c, "bus").Remove("clock"); }, "$.telemetry.broker", "required when telemetry is enabled on a \"pi\" bus"),
        new("tilt limits out of order", c => O(c, "safety")["tiltLimitDeg"] = 20, "$.safety.tiltLimitDeg", "20 is below task.doneTiltDeg 30 (the motors would cut before the episode ends)"),
        new("telemetry faster than control", c => { c["controlRateHz"] = 50; O(c, "telemetry")["rateHz"] = 60; O(c, "log")["ringRecords"] = 4096; }, "$.telemetry.rateHz", "60 is above controlRateHz 50"),
        new("max action above 1", c => O(c, "safety")["maxAction"] = 1.5, "$.safety.maxAction", "1.5 is above the maximum 1"),
        new("stale periods zero", c => O(c, "safety")["staleSensorPeriods"] = 0, "$.safety.staleSensorPeriods", "0 is below the minimum 1"),
        new("PCA9685 frequency above 1526 Hz", c => O(c, "pca9685")["frequencyHz"] = 2000, "$.pca9685.frequencyHz", "2000 is above the maximum 1526"),
        new("PCA9685 channel used twice", c => Motor(c, 1)["pwmChannel"] = 0, "$.motors[1].pwmChannel", "PCA9685 channel 0 is already used by $.motors[0]"),
        new("PCA9685 section missing", c => c.Remove("pca9685"), "$.pca9685", "required because $.motors[0].pwmSource is \"pca9685\""),
        new("hardware PWM pin mismatch", c =>
        {
            c["hardwarePwm"] = new JsonObject { ["chip"] = 0, ["frequencyHz"] = 20000 };
            Motor(c, 0)["pwmSource"] = "hardware"; Motor(c, 0)["pwmPin"] = 13;
        }, "$.motors[0].pwmPin", "GPIO 13 cannot carry hardware PWM channel 0 (use 12 or 18)"),
        new("hardware PWM channel 2", c =>
        {
            c["hardwarePwm"] = new JsonObject { ["chip"] = 0, ["frequencyHz"] = 20000 };
            Motor(c, 0)["pwmSource"] = "hardware"; Motor(c, 0)["pwmChannel"] = 2; Motor(c, 0)["pwmPin"] = 12;
        }, "$.motors[0].pwmChannel", "hardware PWM has channels 0 and 1, not 2"),
        new("duplicate motor name", c => Motor(c, 1)["name"] = "left", "$.motors[1].name", "\"left\" is already the name of $.motors[0]"),
        new("robot id with a slash", c => c["robotId"] = "bot/1", "$.robotId", "\"bot/1\" is not of the expected form: The {robotId} of every MQTT topic and the log file prefix: letters, digits, '-' and '_'."),
        new("empty robot id", c => c["robotId"] = "", "$.robotId", "must not be empty"),
        new("balance-bot needs an IMU", c => c.Remove("imu"), "$.imu", "required by task \"balance-bot\" (pitch comes from the IMU)"),
        new("balance-bot with one motor", c => c["motors"]!.AsArray().RemoveAt(1), "$.motors", "task \"balance-bot\" drives 2 motors (left, right), not 1"),
        new("mounting axes parallel", c => O(O(c, "imu"), "mounting")["up"] = "-x", "$.imu.mounting.up", "must be perpendicular to mounting.forward"),
        new("no hidden layer", c => O(c, "policy")["hiddenSizes"] = new JsonArray(), "$.policy.hiddenSizes", "has 0 item(s), needs at least 1"),
        // 4·1024+1024 + 1024·1024+1024 + 1024·2+2 + 2 log-std = 1,056,772.
        new("policy too large", c => O(c, "policy")["hiddenSizes"] = new JsonArray(1024, 1024), "$.policy.hiddenSizes", "the policy would have 1056772 parameters, more than the 1000000 a control step can afford"),
        // Header 128 + 64 records of 32 + 4·(4 obs + 2 actions) = 56 bytes.
        new("rotation too small for records", c => O(c, "log")["rotateBytes"] = 2048, "$.log.rotateBytes", "2048 bytes cannot hold the header and 64 records (3712 bytes)"),
        new("ring too small for the rate", c => { c["controlRateHz"] = 1000; O(c, "log")["ringRecords"] = 64; }, "$.log.ringRecords", "64 records hold less than 0.1 s of steps at 1000 Hz (need 100)"),
        new("checkpoint missing", c => O(c, "policy")["checkpoint"] = "no-such.ckpt", "$.policy.checkpoint", "file not found: " + Path.Combine(RepoPaths.Root, "firmware-config", "no-such.ckpt")),
        new("task enum", c => O(c, "task")["kind"] = "pendulum", "$.task.kind", "\"pendulum\" is not one of \"balance-bot\", \"cartpole-rail\""),
        new("alpha out of (0,1)", c => O(c, "task")["complementaryAlpha"] = 1.0, "$.task.complementaryAlpha", "1 must be less than 1"),
        new("cartpole field on balance-bot", c => O(c, "task")["doneRailM"] = 0.4, "$.task.doneRailM", "not used by task \"balance-bot\""),
    ];

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases)
            data.Add(c.Name);
        return data;
    }

    [Fact]
    public void The_table_has_at_least_twenty_rows_with_distinct_names()
    {
        Assert.True(Cases.Length >= 20);
        Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Bad_config_is_refused_with_exact_path_and_reason(string name)
    {
        var row = Cases.Single(c => c.Name == name);
        var json = Good();
        row.Break(json);
        string file = RepoPaths.FirmwareConfig("balance-bot.sim.json");
        var result = ConfigLoader.Parse("bad.json", json.ToJsonString(), Path.GetDirectoryName(file)!);

        Assert.False(result.Ok);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal(row.Path, error.Path);
        Assert.Equal(row.Reason, error.Reason);
        Assert.Equal($"bad.json: {row.Path}: {row.Reason}", error.Format("bad.json"));
        Assert.DoesNotContain('\n', error.Format("bad.json"));
    }

    [Fact]
    public void Invalid_json_names_line_and_byte()
    {
        var result = ConfigLoader.Parse("x.json", "{\n  \"robotId\": \"a\",\n}", ".");
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.StartsWith("not valid JSON (line 3", error.Reason);
    }

    [Fact]
    public void Unreadable_file_is_one_error_at_the_root()
    {
        var result = ConfigLoader.Load("/nonexistent/robot.json");
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.StartsWith("cannot read the file", error.Reason);
    }

    [Fact]
    public void Several_problems_are_all_reported_one_per_line()
    {
        var json = Good();
        Encoder(json, 1)["pinA"] = 17;
        O(json, "safety")["tiltLimitDeg"] = 10;
        var result = ConfigLoader.Parse("bad.json", json.ToJsonString(), ".");
        Assert.Equal(2, result.Errors.Count);
        Assert.Contains(result.Errors, e => e.Path == "$.encoders[1].pinA");
        Assert.Contains(result.Errors, e => e.Path == "$.safety.tiltLimitDeg");
    }
}
