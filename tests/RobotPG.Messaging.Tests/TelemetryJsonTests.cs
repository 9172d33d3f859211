using System.Text.Json;
using Xunit;

namespace RobotPG.Messaging.Tests;

public class TelemetryJsonTests
{
    [Fact]
    public void StatusSerialisesCamelCaseThroughTheSourceGeneratedContext()
    {
        var status = new SimStatusTelemetry("bb", "balance-bot", "lockstep", 12, 0.06, false, 1, 13, 12, 0, 0, 0, 200.0);
        string json = JsonSerializer.Serialize(status, MessagingJsonContext.Default.SimStatusTelemetry);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("bb", doc.RootElement.GetProperty("robotId").GetString());
        Assert.Equal(12UL, doc.RootElement.GetProperty("tick").GetUInt64());
        Assert.Equal(status, JsonSerializer.Deserialize(json, MessagingJsonContext.Default.SimStatusTelemetry));
    }

    [Fact]
    public void CommandsAcceptMissingFields()
    {
        Assert.Null(JsonSerializer.Deserialize("{}", MessagingJsonContext.Default.ResetCommand)!.Seed);
        Assert.Equal(5UL, JsonSerializer.Deserialize("{\"seed\":5}", MessagingJsonContext.Default.ResetCommand)!.Seed);
        var r = JsonSerializer.Deserialize("{\"seed\":1,\"scale\":0.5}", MessagingJsonContext.Default.RandomizeCommand)!;
        Assert.Equal((1UL, 0.5), (r.Seed, r.Scale));
    }
}
