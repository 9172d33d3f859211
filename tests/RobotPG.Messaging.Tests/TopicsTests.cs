using Xunit;

namespace RobotPG.Messaging.Tests;

public class TopicsTests
{
    [Fact]
    public void TopicNamesFollowTheContract()
    {
        var t = new Topics("bb-1");
        Assert.Equal("robotpg/bb-1/sim/sensors", t.Sensors);
        Assert.Equal("robotpg/bb-1/sim/actuators", t.Actuators);
        Assert.Equal("robotpg/bb-1/sim/truth", t.Truth);
        Assert.Equal("robotpg/bb-1/status", t.Status);
        Assert.Equal("robotpg/bb-1/reply", t.Reply);
        Assert.Equal("robotpg/bb-1/cmd/clear-estop", t.Command(CommandNames.ClearEmergencyStop));
        Assert.Equal("robotpg/fleet/north/policy", Topics.FleetPolicy("north"));
        Assert.Equal("robotpg/bb-1/telemetry/sim", t.Telemetry(TelemetryKinds.Sim));
        Assert.Equal("robotpg/bb-1/cmd/reset", t.CommandReset);
        Assert.Throws<ArgumentException>(() => new Topics("a/b"));
        Assert.Throws<ArgumentException>(() => new Topics("x+"));
        Assert.Throws<ArgumentException>(() => new Topics(""));
    }

    [Theory]
    [InlineData("robotpg/+/sensors", "robotpg/bb/sensors", true)]
    [InlineData("robotpg/+/sensors", "robotpg/bb/actuators", false)]
    [InlineData("robotpg/bb/cmd/#", "robotpg/bb/cmd/reset", true)]
    [InlineData("robotpg/bb/cmd/#", "robotpg/bb/cmd", true)]
    [InlineData("robotpg/bb/cmd/#", "robotpg/bb/cmdx", false)]
    [InlineData("robotpg/bb/sensors", "robotpg/bb/sensors", true)]
    [InlineData("robotpg/bb/sensors", "robotpg/bb/sensors/x", false)]
    [InlineData("robotpg/bb/sensors/x", "robotpg/bb/sensors", false)]
    [InlineData("#", "anything/at/all", true)]
    public void FilterMatching(string filter, string topic, bool matches) => Assert.Equal(matches, Topics.Matches(filter, topic));

    [Theory]
    [InlineData("mqtt://10.0.0.5:1884", "10.0.0.5", 1884)]
    [InlineData("mqtt://broker.local", "broker.local", 1883)]
    [InlineData("localhost:2000", "localhost", 2000)]
    public void BrokerAddressesParse(string text, string host, int port)
    {
        var endpoint = MqttEndpoint.TryParse(text, "c", out var error);
        Assert.Null(error);
        Assert.Equal((host, port), (endpoint!.Host, endpoint.Port));
    }

    [Theory]
    [InlineData("http://x:1", "only mqtt://")]
    [InlineData("mqtt://x:99999", "port must be")]
    [InlineData("mqtt://:1883", "host is empty")]
    public void BadBrokerAddressesSayWhy(string text, string reason)
    {
        Assert.Null(MqttEndpoint.TryParse(text, "c", out var error));
        Assert.Contains(reason, error);
    }
}
