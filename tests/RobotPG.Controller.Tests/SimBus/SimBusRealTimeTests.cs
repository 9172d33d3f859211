using System.Device.Gpio;
using System.Device.I2c;
using RobotPG.Controller.Simulation;
using RobotPG.Hardware;
using RobotPG.Messaging;
using RobotPG.Sim.Devices;

namespace RobotPG.Controller.Tests.SimBus;

/// <summary>
/// The sim bus against a simulator on the wall clock, whose ticks do not wait for the controller: a
/// tick computed before an actuator frame arrived can reach the controller after that frame was sent.
/// </summary>
public sealed class SimBusRealTimeTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Real time's race made deterministic: for each actuator frame the sim first publishes a tick it
    /// computed before the frame arrived (its echo still names the previous frame), waits until the
    /// controller has latched that tick, and only then applies the frame and publishes the next tick.
    /// </summary>
    private sealed class LateApplyingPeer
    {
        private readonly SimActuatorFrame _actuators = new();
        private readonly SimSensorFrame _sensors = new();
        private readonly byte[] _encoded = new byte[SimSensorFrame.MaxEncodedLength];
        private readonly Controller.Simulation.SimBus _bus;
        private ulong _applied;
        private ulong _pins;

        public LateApplyingPeer(Controller.Simulation.SimBus bus) => _bus = bus;

        public Mpu6050Emulator Imu { get; } = new();
        public Pca9685Emulator Pwm { get; } = new();
        public ulong Tick { get; private set; }

        /// <summary>Ticks published that predate the actuator frame just received.</summary>
        public int PreWriteTicks { get; private set; }

        /// <summary>Fault injection: writes to this GPIO are lost (a dead line); -1: none.</summary>
        public int StuckPin { get; init; } = -1;

        public bool PinHigh(int pin) => (_pins >> pin & 1) != 0;

        public void Publish()
        {
            _sensors.SetShape(2, 0);
            _sensors.SetDevice(0, Imu.Address, Imu.RegisterImage);
            _sensors.SetDevice(1, Pwm.Address, Pwm.RegisterImage);
            _sensors.Sequence = Tick;
            _sensors.SimTime = Tick * 0.005;
            _sensors.AppliedActuatorSequence = _applied;
            _sensors.PinLevels = _pins;
            _bus.ReceiveSensorFrame(_encoded.AsSpan(0, _sensors.Encode(_encoded)));
        }

        public Task Run(ActuatorFrameQueue queue, CancellationToken cancellationToken) => Task.Factory.StartNew(() =>
        {
            var buffer = new byte[SimActuatorFrame.MaxEncodedLength];
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    if (!queue.WaitForFrame(TimeSpan.FromMilliseconds(20), cancellationToken)) continue;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                while (queue.TryDequeue(buffer, out int length))
                {
                    Assert.Equal(FrameStatus.Ok, _actuators.TryDecode(buffer.AsSpan(0, length)));
                    // The tick the sim computed while the frame was on the wire.
                    long latched = _bus.LatchedFrames;
                    Tick++;
                    PreWriteTicks++;
                    Publish();
                    var until = DateTime.UtcNow + Wait; // a guard against a hung test, never part of the outcome
                    while (_bus.LatchedFrames == latched && DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested)
                        Thread.Yield();
                    Apply();
                    Tick++;
                    Publish();
                }
            }
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        private void Apply()
        {
            for (int i = 0; i < _actuators.I2cWriteCount; i++)
            {
                IRegisterDevice device = _actuators.I2cWriteAddress(i) == Imu.Address ? Imu : Pwm;
                device.Write(_actuators.I2cWriteData(i));
            }
            for (int i = 0; i < _actuators.PinLevelCount; i++)
            {
                int pin = _actuators.PinNumber(i);
                if (pin == StuckPin) continue;
                _pins = _actuators.PinHigh(i) ? _pins | 1UL << pin : _pins & ~(1UL << pin);
            }
            _applied = _actuators.Sequence;
        }
    }

    private static (Controller.Simulation.SimBus Bus, LateApplyingPeer Peer, Task Sim, CancellationTokenSource Stop, ActuatorFrameQueue Queue) Start(int stuckPin = -1)
    {
        var queue = new ActuatorFrameQueue();
        var bus = new Controller.Simulation.SimBus(new SimBusOptions { FrameTimeout = Wait }, queue);
        var peer = new LateApplyingPeer(bus) { StuckPin = stuckPin };
        var stop = new CancellationTokenSource();
        var sim = peer.Run(queue, stop.Token);
        peer.Publish();
        bus.WaitForFirstFrame(Wait);
        return (bus, peer, sim, stop, queue);
    }

    private static void Stop((Controller.Simulation.SimBus Bus, LateApplyingPeer Peer, Task Sim, CancellationTokenSource Stop, ActuatorFrameQueue Queue) run)
    {
        run.Stop.Cancel();
        run.Sim.Wait(Wait);
        run.Bus.Dispose();
        run.Queue.Dispose();
        run.Stop.Dispose();
    }

    [Fact]
    public void A_read_back_is_answered_by_the_tick_that_applied_the_write_not_by_an_earlier_one()
    {
        var run = Start();
        var bus = run.Bus;
        var imu = bus.CreateI2cDevice(new I2cConnectionSettings(1, 0x68));
        imu.Write([0x1B, 0x08]);                     // GYRO_CONFIG: ±500 °/s
        Span<byte> back = stackalloc byte[1];
        imu.WriteRead([0x1B], back);

        Assert.Equal(0x08, back[0]);
        // Tick 1 predated the write (the race happened); the read-back came from a later tick, computed
        // after the write was applied (2, or 3 when the sim's next tick overtook it).
        Assert.InRange(bus.Current.Sequence, 2UL, 3UL);
        Assert.Equal(bus.ActuatorSequence(1), bus.Current.AppliedActuatorSequence);
        Assert.Equal(1, bus.AcknowledgedFrames);
        Stop(run);
    }

    [Fact]
    public void Chip_start_up_verifies_its_writes_against_the_ticks_that_applied_them()
    {
        var run = Start();
        var options = DriverRobotIoOptions.BalanceBot(1440) with
        {
            Imu = new Mpu6050Options { ResetDelay = TimeSpan.Zero, GyroCalibrationSamples = 5 },
            Pca9685 = new Pca9685Options { OscillatorStartup = TimeSpan.Zero, FrequencyHz = 1000 },
            Encoders = [],
        };
        using (var io = new DriverRobotIo(options, run.Bus))
        {
            Assert.Equal(1, run.Peer.Imu.ResetCount);
            Assert.Equal(1, run.Peer.Imu.ClockSource);
            Assert.Equal((int)Mpu6050GyroRange.PlusMinus500DegreesPerSecond, run.Peer.Imu.GyroRangeSelect);
            Assert.Equal(5, run.Peer.Pwm.RegisterImage[0xFE]); // round(25 MHz / (4096 · 1 kHz)) − 1
            Assert.False(run.Peer.Pwm.IsSleeping);
            Assert.True(run.Peer.PreWriteTicks >= 5);
        }
        Stop(run);
    }

    [Fact]
    public void A_pin_write_the_sim_did_not_take_is_a_bus_fault_naming_the_pin_once_the_write_was_applied()
    {
        var run = Start(stuckPin: 5);
        var bus = run.Bus;
        var gpio = bus.CreateGpioController();
        gpio.OpenPin(5, PinMode.Output);
        gpio.OpenPin(6, PinMode.Output);
        bus.BeginRead(out _, out _);
        gpio.Write(5, PinValue.High);
        gpio.Write(6, PinValue.High);
        bus.CommitWrites();                          // frame 1: both pins high; the sim loses GPIO 5's write

        // The tick that predates frame 1 still agrees with what was applied so far: no fault yet.
        Assert.True(bus.WaitForNewFrame(Wait));
        bus.BeginRead(out _, out _);
        Assert.Equal(1UL, bus.Current.Sequence);
        Assert.Equal(0, bus.AcknowledgedFrames);

        Assert.True(bus.WaitForNewFrame(Wait));      // the tick that applied frame 1
        var fault = Assert.Throws<GpioWriteException>(() => bus.BeginRead(out _, out _));
        Assert.Equal("GPIO 5: write of a motor direction pin failed: wrote high, the simulator's pin reads low (tick 2, after the write was applied): a dead GPIO line", fault.Message);
        Assert.True(run.Peer.PinHigh(6));
        Assert.False(run.Peer.PinHigh(5));
        Assert.Equal(1, bus.AcknowledgedFrames);
        Stop(run);
    }
}
