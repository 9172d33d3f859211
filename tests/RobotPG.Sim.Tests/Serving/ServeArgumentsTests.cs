using RobotPG.Sim.Cli;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Sim.Tests.Serving;

public class ServeArgumentsTests
{
    [Fact]
    public void GoodArgumentsBuildTheServerOptions()
    {
        Assert.True(ServeCommand.TryBuildOptions("cartpole-rail", "mqtt://127.0.0.1:1884", "0", "realtime", "42", "rail-1", "15", "0.5",
            true, false, "100", null, out var options, out var problem), problem);
        Assert.Equal("cartpole-rail", options!.Robot);
        Assert.Equal(("127.0.0.1", 1884), (options.Broker!.Host, options.Broker.Port));
        Assert.Equal(SimClockMode.Realtime, options.Clock);
        Assert.Equal(42UL, options.Seed);
        Assert.Equal(TimeSpan.FromMilliseconds(15), options.ActuationLatency);
        Assert.Equal(0.5, options.SensorNoiseScale);
        Assert.True(options.RandomizeOnReset);
        Assert.False(options.PublishTruth);
        Assert.Equal(100.0, options.ControlRateHz);

        Assert.True(ServeCommand.TryBuildOptions(null, "embedded", "0", null, null, null, null, null, false, true, null, null, out options, out problem), problem);
        Assert.Null(options!.Broker);
        Assert.Equal(SimClockMode.Lockstep, options.Clock);
    }

    [Theory]
    [InlineData("hexapod", "embedded", "1883", "lockstep", "1", "0", "--robot: 'hexapod'")]
    [InlineData("balance-bot", "http://x", "1883", "lockstep", "1", "0", "--broker:")]
    [InlineData("balance-bot", "embedded", "70000", "lockstep", "1", "0", "--port:")]
    [InlineData("balance-bot", "embedded", "1883", "fast", "1", "0", "--clock: 'fast'")]
    [InlineData("balance-bot", "embedded", "1883", "lockstep", "-3", "0", "--seed:")]
    [InlineData("balance-bot", "embedded", "1883", "lockstep", "1", "20", "--latency-ms: actuation latency only applies")]
    public void BadArgumentsGetOneLineNamingTheOption(string robot, string broker, string port, string clock, string seed, string latency, string expected)
    {
        Assert.False(ServeCommand.TryBuildOptions(robot, broker, port, clock, seed, null, latency, "1", false, true, null, null, out var options, out var problem));
        Assert.Null(options);
        Assert.StartsWith(expected, problem);
        Assert.DoesNotContain('\n', problem!);
    }
}
