using RobotPG.Controller.Control;
using RobotPG.Controller.Tasks;

namespace RobotPG.Controller.Tests.Control;

/// <summary>
/// One recovery policy: tilt and stale sensor re-arm when clear; bus faults past their retries, NaN/∞ and
/// software faults end the run (motors off) so the process exits non-zero and systemd restarts it.
/// </summary>
public sealed class TripPolicyTests
{
    /// <summary>A clock that never waits and runs the test's script before step k: the loop's own step count is its time.</summary>
    private sealed class ScriptClock(Action<long> beforeStep) : IStepClock
    {
        private long _k;

        public long WaitUntil(long deadline)
        {
            beforeStep(_k++);
            return deadline;
        }
    }

    private static (ControlLoop Loop, FakeRobotIo Io, SafetySupervisor Safety) Build(Action<long, FakeRobotIo, SafetySupervisor>? script = null)
    {
        var io = new FakeRobotIo();
        var config = LoopFixture.Config;
        var safety = new SafetySupervisor(config.Safety, 200, 2);
        var loop = new ControlLoop(io, ControlTasks.Create(config), new PolicyExchange(ControlPolicy.Zero(4, 2)), safety, 200,
            config.Task.MaxEpisodeSteps, seed: 3, clock: new ScriptClock(k => script?.Invoke(k, io, safety)));
        return (loop, io, safety);
    }

    [Fact]
    public void A_bus_fault_past_its_retries_ends_the_run_in_the_same_period_with_the_motors_off()
    {
        var (loop, io, _) = Build((k, io, _) =>
        {
            io.RecordCalls = true;
            if (k == 50) io.ReadFailures = int.MaxValue; // the IMU goes away for good at step 50
        });
        loop.Run(maxSteps: 1000, warmupSteps: 1000);
        long step = loop.StepCount;

        Assert.Equal(SafetyCause.BusFault, loop.FatalCause);
        Assert.Equal(51, step);                 // detected and ended in the period of the fault
        Assert.Equal(['R', 'R', 'R', 'S', 'S'], io.Calls.TakeLast(5)); // 1 try + 2 retries, motors off in the step and at the end
        Assert.All(io.LastDrive, d => Assert.Equal(0f, d));
    }

    [Fact]
    public void A_software_fault_ends_the_run_and_an_emergency_stop_does_not()
    {
        var (loop, io, safety) = Build((k, _, s) => { if (k == 0) s.RequestEmergencyStop(); });
        loop.Run(maxSteps: 30, warmupSteps: 1000);
        Assert.Null(loop.FatalCause);           // held off, but the process stays up for the operator
        Assert.Equal(30, loop.StepCount);
        Assert.Equal(SafetyCause.EmergencyStop, safety.Cause);
        Assert.True(SafetySupervisor.IsFatal(SafetyCause.SoftwareFault));
        Assert.True(SafetySupervisor.IsFatal(SafetyCause.NonFinite));
        Assert.False(SafetySupervisor.IsFatal(SafetyCause.Tilt));
        Assert.False(SafetySupervisor.IsFatal(SafetyCause.StaleSensor));
        Assert.Equal(31, io.Stops);             // every step re-asserts off, and the end of the run
    }

    [Fact]
    public void Without_a_learner_a_stale_sensor_trip_rearms_after_one_second_of_fresh_data()
    {
        var tripped = new List<bool>();
        int drivesAt215 = -1, drivesAt216 = -1;
        var (loop, io, safety) = Build((k, io, s) =>
        {
            if (k > 0) tripped.Add(s.Tripped); // state after step k − 1
            if (k == 10) io.Fresh = false;     // steps 10..14 unchanged: the 5th trips
            if (k == 15) io.Fresh = true;      // fresh from step 15: 200 clear periods are steps 15..214
            if (k == 215) drivesAt215 = io.Drives;
            if (k == 216) drivesAt216 = io.Drives;
        });
        loop.Run(maxSteps: 220, warmupSteps: 1000);

        Assert.False(tripped[13]);
        Assert.True(tripped[14]);                       // the 5th unchanged period trips
        Assert.Equal(SafetyCause.StaleSensor, LastTripCause(safety));
        Assert.All(tripped[14..214], Assert.True);      // held off for 200 fresh periods
        Assert.False(tripped[214]);                     // re-armed at step 214 (which still sends zero)
        Assert.Equal(drivesAt215 + 1, drivesAt216);     // and driving again at step 215
        Assert.Equal(1, safety.Rearms);
        Assert.Null(loop.FatalCause);
    }

    private static SafetyCause LastTripCause(SafetySupervisor s) =>
        s.Events(SafetyCause.StaleSensor) == 1 ? SafetyCause.StaleSensor : SafetyCause.Shutdown;
}
