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

    [Fact]
    public void One_schema_validates_on_many_threads_at_once_and_gives_each_value_its_own_verdict()
    {
        // The loader validates every config with one shared schema, whose regular expressions are compiled on first
        // use; eight threads meet 64 patterns for the first time together (a plain dictionary was corrupted here).
        const int Patterns = 64;
        var properties = new JsonObject();
        for (int p = 0; p < Patterns; p++) properties[$"f{p}"] = new JsonObject { ["type"] = "string", ["pattern"] = $"^x{p}$" };
        var schema = JsonSchemaSubset.Parse(new JsonObject { ["type"] = "object", ["properties"] = properties }.ToJsonString());
        var good = new JsonObject();
        var bad = new JsonObject();
        for (int p = 0; p < Patterns; p++)
        {
            good[$"f{p}"] = $"x{p}";
            bad[$"f{p}"] = $"x{p + 1}";
        }
        using var goodDoc = System.Text.Json.JsonDocument.Parse(good.ToJsonString());
        using var badDoc = System.Text.Json.JsonDocument.Parse(bad.ToJsonString());
        using var start = new Barrier(8);
        var errors = new int[8];
        var failures = new Exception?[8];
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            var found = new List<ConfigError>();
            start.SignalAndWait();
            try
            {
                schema.Validate((t % 2 == 0 ? goodDoc : badDoc).RootElement, found);
                errors[t] = found.Count;
            }
            catch (Exception e)
            {
                failures[t] = e;
            }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        Assert.All(failures, Assert.Null);
        for (int t = 0; t < 8; t++) Assert.Equal(t % 2 == 0 ? 0 : Patterns, errors[t]);
    }
}
