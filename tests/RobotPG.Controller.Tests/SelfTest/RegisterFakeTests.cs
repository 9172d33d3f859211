using RobotPG.Controller.SelfTest;

namespace RobotPG.Controller.Tests.SelfTest;

/// <summary>The selftest's register fakes behave as the datasheets say, independently of the drivers they serve.</summary>
public sealed class RegisterFakeTests
{
    [Fact]
    public void Pca9685_power_on_state_is_all_outputs_full_off_asleep()
    {
        var chip = new Pca9685RegisterFake();
        Assert.Equal(0x11, chip[0x00]); // MODE1: SLEEP | ALLCALL
        Assert.Equal(0x04, chip[0x01]); // MODE2: OUTDRV
        Assert.Equal(0x1E, chip.PrescaleRegister); // 200 Hz
        for (int channel = 0; channel < 16; channel++) Assert.Equal(0.0, chip.DutyCycle(channel));
    }

    [Fact]
    public void Pca9685_prescale_is_written_only_while_asleep()
    {
        var chip = new Pca9685RegisterFake();
        chip.Write([0xFE, 5]);
        Assert.Equal(5, chip.PrescaleRegister);
        chip.Write([0x00, 0x01]); // wake
        chip.Write([0xFE, 121]);
        Assert.Equal(5, chip.PrescaleRegister);
    }

    [Fact]
    public void Pca9685_auto_increment_follows_mode1_and_all_led_reaches_every_channel()
    {
        var chip = new Pca9685RegisterFake();
        // AI off: ON_L, ON_H, OFF_L, OFF_H bytes all land in LED0_ON_L, the last one wins.
        chip.Write([0x06, 0x11, 0x22, 0x33, 0x44]);
        Assert.Equal(0x44, chip[0x06]);
        Assert.Equal(0x00, chip[0x07]);
        chip.Write([0x00, 0x21]); // AI on, awake
        chip.Write([0x06 + 4 * 7, 0x00, 0x00, 0x00, 0x08]); // channel 7: ON 0, OFF 2048
        Assert.Equal(0.5, chip.DutyCycle(7));
        chip.Write([0xFA, 0x00, 0x00, 0x00, 0x10]); // ALL_LED full off
        for (int channel = 0; channel < 16; channel++) Assert.True(chip.FullOff(channel));
        Assert.Equal(0.0, chip.DutyCycle(7));
    }

    [Fact]
    public void Pca9685_full_off_wins_over_full_on()
    {
        var chip = new Pca9685RegisterFake();
        chip.Write([0x00, 0x21]);
        chip.Write([0x06, 0x00, 0x10, 0x00, 0x00]);
        Assert.Equal(1.0, chip.DutyCycle(0));
        chip.Write([0x09, 0x10]);
        Assert.Equal(0.0, chip.DutyCycle(0));
    }

    [Fact]
    public void Mpu6050_identity_reset_and_read_only_data_registers()
    {
        var chip = new Mpu6050RegisterFake();
        Assert.Equal(0x68, chip[0x75]);
        Assert.Equal(0x40, chip[0x6B]); // asleep after power-on
        chip.Write([0x1B, 0x18]);
        chip.Write([0x6B, 0x80]); // DEVICE_RESET: registers back to their defaults, the bit clears itself
        Assert.Equal(0x00, chip[0x1B]);
        Assert.Equal(0x40, chip[0x6B]);
        chip.SetSample(1, 2, 3, 4, 5, 6, -2);
        chip.Write([0x3B, 0xFF, 0xFF]);
        Span<byte> burst = stackalloc byte[14];
        chip.WriteRead([0x3B], burst);
        Assert.Equal(new byte[] { 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0xFF, 0xFE }, burst.ToArray());
    }
}
