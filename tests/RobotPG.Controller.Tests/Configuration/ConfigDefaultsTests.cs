using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using Xunit;

namespace RobotPG.Controller.Tests.Configuration;

/// <summary>A field the config leaves out takes the default the schema documents, not the CLR zero.</summary>
public sealed class ConfigDefaultsTests
{
    [Fact]
    public void Absent_optional_fields_take_their_documented_defaults()
    {
        string file = RepoPaths.FirmwareConfig("balance-bot.sim.json");
        var json = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        json["bus"]!.AsObject().Remove("i2cBusId");
        json["policy"]!.AsObject().Remove("seed");

        var result = ConfigLoader.Parse(file, json.ToJsonString(), Path.GetDirectoryName(file)!);

        Assert.NotNull(result.Config);
        Assert.Equal(1, result.Config!.Bus.I2cBusId);
        Assert.Equal(1UL, result.Config.Policy.Seed);
    }
}
