using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tests.Configuration;

public sealed class GoodConfigTests
{
    [Theory]
    [InlineData("balance-bot.json")]
    [InlineData("balance-bot.sim.json")]
    [InlineData("cartpole-rail.sim.json")]
    public void Shipped_configs_pass(string name)
    {
        var result = ConfigLoader.Load(RepoPaths.FirmwareConfig(name));
        Assert.Empty(result.Errors);
        Assert.True(result.Ok);
    }

    [Fact]
    public void Real_pi_config_has_the_chips_where_the_issue_puts_them()
    {
        var c = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.json")).Config!;
        Assert.Equal(BusKind.Pi, c.Bus.Kind);
        Assert.Equal(1, c.Bus.I2cBusId);
        Assert.Equal(0x68, c.Imu!.Address);
        Assert.Equal(0x40, c.Pca9685!.Address);
        Assert.Equal(2, c.Encoders.Length);
    }

    [Fact]
    public void Sim_config_is_the_same_robot_on_a_sim_bus()
    {
        var pi = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.json")).Config!;
        var sim = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.sim.json")).Config!;
        Assert.Equal(BusKind.Sim, sim.Bus.Kind);
        Assert.Equal(SimClock.Lockstep, sim.Bus.Clock);
        Assert.Equal("mqtt://127.0.0.1:1883", sim.Bus.Broker);
        Assert.Equal(pi.ControlRateHz, sim.ControlRateHz);
        Assert.Equal(pi.Imu!.Mounting.Forward, sim.Imu!.Mounting.Forward);
        for (int m = 0; m < pi.Motors.Length; m++)
        {
            Assert.Equal(pi.Motors[m].In1Pin, sim.Motors[m].In1Pin);
            Assert.Equal(pi.Motors[m].PwmChannel, sim.Motors[m].PwmChannel);
        }
    }

    [Fact]
    public void Every_config_names_the_schema_for_editors()
    {
        foreach (var name in new[] { "balance-bot.json", "balance-bot.sim.json", "cartpole-rail.sim.json" })
            Assert.Equal("./robotpg.schema.json", ConfigLoader.Load(RepoPaths.FirmwareConfig(name)).Config!.Schema);
    }

    [Fact]
    public void Embedded_schema_is_the_file_in_firmware_config()
    {
        Assert.Equal(File.ReadAllText(RepoPaths.FirmwareConfig("robotpg.schema.json")), ConfigLoader.SchemaText);
    }
}
