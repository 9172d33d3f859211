using BenchmarkDotNet.Attributes;
using RobotPG.Controller.Simulation;
using RobotPG.Hardware;
using RobotPG.Messaging;
using RobotPG.Sim.Devices;

namespace RobotPG.Benchmarks;

/// <summary>
/// The drivers' share of a control step: an MPU-6050 burst read + decode, a PCA9685 duty write, and
/// a whole Read + Drive of the balance bot over the sim bus with the simulator's chips answering
/// inline (frame encode/decode on both sides included). One operation = one call.
/// Run: dotnet run -c Release --project tests/RobotPG.Benchmarks -- --filter '*DriverBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class DriverBenchmarks
{
    private Mpu6050 _imu = null!;
    private Pca9685 _pca = null!;
    private SensorFrame _frame = null!;
    private DriverRobotIo _io = null!;
    private SimBus _bus = null!;
    private readonly float[] _commands = new float[2];
    private int _step;

    [GlobalSetup]
    public void Setup()
    {
        var chip = new Mpu6050Emulator();
        _imu = new Mpu6050(new EmulatedI2cDevice(chip), new Mpu6050Options { ResetDelay = TimeSpan.Zero });
        _imu.Initialize();
        chip.SetMotion(0.1, 0.2, 9.8, 0.01, 0.02, 0.03, 25);
        _pca = new Pca9685(new EmulatedI2cDevice(new Pca9685Emulator()), new Pca9685Options { OscillatorStartup = TimeSpan.Zero });
        _pca.Initialize();
        _frame = new SensorFrame(2);

        var peer = new ChipPeer();
        _bus = new SimBus(new SimBusOptions { Encoders = [new EncoderPins(17, 27), new EncoderPins(22, 23)] }, peer);
        peer.Attach(_bus);
        _bus.WaitForFirstFrame(TimeSpan.FromSeconds(5));
        _io = new DriverRobotIo(DriverRobotIoOptions.BalanceBot() with
        {
            Imu = new Mpu6050Options { ResetDelay = TimeSpan.Zero, GyroCalibrationSamples = 10 },
            Pca9685 = new Pca9685Options { OscillatorStartup = TimeSpan.Zero },
        }, _bus);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _io.Dispose();
        _bus.Dispose();
    }

    [Benchmark]
    public float Mpu6050BurstRead()
    {
        _imu.Read(_frame);
        return _frame.AccelZ;
    }

    [Benchmark]
    public void Pca9685SetDuty() => _pca.SetDutyCycle(3, (++_step & 1023) / 1024.0);

    [Benchmark]
    public float SimBusReadAndDrive()
    {
        _io.Read(_frame);
        _commands[0] = ((++_step & 255) - 128) / 128f;
        _commands[1] = -_commands[0];
        _io.Drive(_commands);
        return _frame.GyroY;
    }

    /// <summary>The simulator's chips answering each actuator frame at once with the next tick.</summary>
    private sealed class ChipPeer : IActuatorFrameSink
    {
        private readonly Mpu6050Emulator _imu = new();
        private readonly Pca9685Emulator _pwm = new();
        private readonly SimActuatorFrame _actuators = new();
        private readonly SimSensorFrame _sensors = new();
        private readonly byte[] _encoded = new byte[SimSensorFrame.MaxEncodedLength];
        private SimBus? _bus;
        private ulong _tick;
        private ulong _applied;
        private ulong _pins;

        public void Attach(SimBus bus)
        {
            _bus = bus;
            Publish();
        }

        public void Send(ReadOnlySpan<byte> encodedFrame)
        {
            if (_actuators.TryDecode(encodedFrame) != FrameStatus.Ok || _actuators.AnswersTick != _tick) return;
            for (int i = 0; i < _actuators.I2cWriteCount; i++)
            {
                IRegisterDevice device = _actuators.I2cWriteAddress(i) == _imu.Address ? _imu : _pwm;
                device.Write(_actuators.I2cWriteData(i));
            }
            for (int i = 0; i < _actuators.PinLevelCount; i++)
            {
                ulong bit = 1UL << _actuators.PinNumber(i);
                _pins = _actuators.PinHigh(i) ? _pins | bit : _pins & ~bit;
            }
            _applied = _actuators.Sequence;
            _tick++;
            _imu.SetMotion(0.1, 0.2, 9.8, 0.01, 0.02, 0.03, 25);
            Publish();
        }

        private void Publish()
        {
            _sensors.SetShape(2, 2);
            _sensors.SetDevice(0, _imu.Address, _imu.RegisterImage);
            _sensors.SetDevice(1, _pwm.Address, _pwm.RegisterImage);
            _sensors.EncoderCounts[0] = 3 * (long)_tick;
            _sensors.EncoderCounts[1] = -3 * (long)_tick;
            _sensors.Sequence = _tick;
            _sensors.SimTime = _tick * 0.005;
            _sensors.AppliedActuatorSequence = _applied;
            _sensors.PinLevels = _pins;
            int length = _sensors.Encode(_encoded);
            _bus!.ReceiveSensorFrame(_encoded.AsSpan(0, length));
        }
    }
}
