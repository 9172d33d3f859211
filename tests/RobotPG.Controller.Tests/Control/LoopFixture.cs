using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Tasks;

namespace RobotPG.Controller.Tests.Control;

/// <summary>A balance-bot loop over a <see cref="FakeRobotIo"/>, with the shipped sim config's limits.</summary>
internal sealed class LoopFixture
{
    public static readonly RobotConfig Config = ConfigLoader.Load(RepoPaths.FirmwareConfig("balance-bot.sim.json")).Config!;

    public LoopFixture(ControlPolicy? policy = null, IControlTask? task = null, double rateHz = 200, TrajectoryRing? logRing = null)
    {
        Task = task ?? ControlTasks.Create(Config);
        Safety = new SafetySupervisor(Config.Safety, rateHz, 2);
        Policies = new PolicyExchange(policy ?? ControlPolicy.Zero(4, 2));
        Loop = new ControlLoop(Io, Task, Policies, Safety, rateHz, Config.Task.MaxEpisodeSteps, seed: 3, logRing);
    }

    public FakeRobotIo Io { get; } = new();

    public IControlTask Task { get; }

    public SafetySupervisor Safety { get; }

    public PolicyExchange Policies { get; }

    public ControlLoop Loop { get; }

    public void Steps(int n)
    {
        for (int i = 0; i < n; i++)
            Loop.Step(System.Diagnostics.Stopwatch.GetTimestamp());
    }
}
