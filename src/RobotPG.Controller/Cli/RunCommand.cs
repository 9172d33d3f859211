using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Hosting;

namespace RobotPG.Controller.Cli;

/// <summary><c>robotpg run --config F [--policy P] [--duration S] [--resume]</c>.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Robot config (JSON).", Required = true };
        var policy = new Option<string?>("--policy") { Description = "Checkpoint to run (overrides policy.checkpoint; default: the config's, else the zero policy)." };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds of control steps (default: until SIGINT/SIGTERM)." };
        var resume = new Option<bool>("--resume") { Description = "Learning: continue from the learner's last good checkpoint (optimiser, normaliser, step and episode counters)." };
        var command = new Command("run", "Run the control loop: sensors → task → policy → safety → motors, every step logged; SIGINT/SIGTERM stops the motors, flushes the log and exits 0.");
        command.Options.Add(config);
        command.Options.Add(policy);
        command.Options.Add(duration);
        command.Options.Add(resume);
        command.SetAction(parseResult => Run(
            parseResult.GetValue(config)!, parseResult.GetValue(policy), parseResult.GetValue(duration),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, parseResult.GetValue(resume)));
        return command;
    }

    /// <summary>
    /// The option/config combinations <c>run</c> refuses before touching the robot (exit 2), or null.
    /// The service unit's command line with the shipped config must pass this (tested).
    /// </summary>
    public static string? Preflight(RobotConfig config, string configPath, bool resume) =>
        resume && config.Learning is not { Algorithm: not "off" }
            ? $"--resume continues on-device learning, but {configPath} has no learning section (or learning.algorithm is off)"
            : null;

    /// <summary>The last line of a run that a fault ended (exit code 3): the cause, the chip or pin and what failed.</summary>
    public static string FatalLine(Control.ControlLoop loop) =>
        $"robotpg: motors off after a {loop.FatalDescription} that does not clear by itself; exiting {RobotPgCli.ExitFault} so the service restarts the controller";

    /// <summary>
    /// The exit line of a run that held before steps (null when none did; only lockstep holds, real time never waits):
    /// the 1 ms waits for room in the log ring and the steps that waited for the learner's update.
    /// </summary>
    public static string? HoldsLine(Control.ControlLoop loop) =>
        loop.LogHolds == 0 && loop.LearnerHolds == 0 ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"robotpg: lockstep holds: {loop.LogHolds} ms waiting for the log, {loop.LearnerHolds} {(loop.LearnerHolds == 1 ? "step" : "steps")} waited for the learner");

    /// <summary>
    /// The warning of a run whose learner stopped answering: a hold ran out of the loop's limit and the loop gave up
    /// on it (null if not). Like a learner stopped by faults it does not fail the run: the robot was driven throughout.
    /// </summary>
    public static string? HungLearnerLine(Control.ControlLoop loop) =>
        loop.LearnerHoldTimeouts == 0 ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"robotpg: warning: the learner stopped answering (its update was not done after {loop.LearnerHoldLimit.TotalSeconds:0.###} s of waiting); the loop ran on without waiting for it, so later updates, if any, took robot time");

    /// <summary>
    /// The warning of a lockstep run in which the simulator went quiet: waits that ended with no tick (no step was
    /// taken on them, so the log is unaffected; null if none). Seconds of a stalled simulator or broker.
    /// </summary>
    public static string? SilentWaitsLine(Control.ControlLoop loop) =>
        loop.SilentWaits == 0 ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"robotpg: warning: {loop.SilentWaits} lockstep {(loop.SilentWaits == 1 ? "wait" : "waits")} of {Hosting.SimRobotConnection.LockstepWait.TotalSeconds:0.###} s ended with no tick from the simulator (no step taken on them; was the simulator or the broker stalled?)");

    public static int Run(string configPath, string? policyPath, double? durationSeconds, TextWriter output, TextWriter error, bool resume = false)
    {
        var dryRun = DryRun.FromEnvironment();
        if (durationSeconds is { } d && !(d > 0 && double.IsFinite(d)))
        {
            error.WriteLine("robotpg: --duration must be a positive number of seconds (see robotpg --help)");
            return RobotPgCli.ExitUsage;
        }
        var loaded = ConfigLoader.Load(configPath);
        if (!loaded.Ok)
            return CheckConfigCommand.Report(loaded, output, error);
        string configDirectory = Path.GetDirectoryName(Path.GetFullPath(configPath)) ?? ".";
        if (Preflight(loaded.Config!, configPath, resume) is { } refused)
        {
            error.WriteLine($"robotpg: {refused}");
            return RobotPgCli.ExitUsage;
        }

        ControllerHost host;
        try
        {
            host = ControllerHost.Start(loaded.Config!, configDirectory, policyPath, durationSeconds, output, resume, dryRun);
        }
        catch (StartupException e)
        {
            error.WriteLine($"robotpg: {e.Message}");
            return e.ExitCode;
        }

        using (host)
        {
            // Motors off first (the loop's last act), then the log, then exit 0 (DESIGN.md, house rules).
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            host.WaitForExit();
            var loop = host.Loop;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"robotpg: stopped after {loop.StepCount} steps, {loop.Counters.Episodes} episodes, {host.LogWriter.RecordsWritten} records logged, period error p99 {loop.PeriodError.Percentile(0.99)} µs, {loop.Counters.Overruns} overruns; motors off ({(loop.Safety.Tripped ? Telemetry.TelemetryPublisher.CauseName(loop.Safety.Cause) : "running")})"));
            if (HoldsLine(loop) is { } holdsLine) output.WriteLine(holdsLine);
            if (SilentWaitsLine(loop) is { } silentLine) error.WriteLine(silentLine);
            if (host.Learning is { } learning)
            {
                var l = learning.Learner;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"robotpg: learning ({learning.Options.Algorithm}): {l.Updates} updates, {l.Rollbacks} rolled back, {l.Steps} steps, {l.Episodes} episodes in all; mean return (last 10) {l.MeanReturn:F1}; checkpoints in {learning.Options.CheckpointDirectory}"));
            }
            // A learner that gave up (faults) or stopped answering (hung) is a warning, not a failed run: the robot ran on.
            if (learningStopped(host) is { } stoppedLine) error.WriteLine(stoppedLine);
            if (HungLearnerLine(loop) is { } hungLine) error.WriteLine(hungLine);
            if (dryRun is not null)
            {
                if (loop.FirstStepTimestamp == 0 || loop.FatalCause is not null)
                {
                    error.WriteLine($"robotpg: dry run: the loop did not run its {DryRun.Periods} periods ({loop.FatalDescription ?? "no control step"})");
                    return RobotPgCli.ExitFailure;
                }
                output.WriteLine($"robotpg: dry run: first control step reached; {loop.StepCount} periods against register fakes, no pin touched; state under {dryRun.StateRoot}");
                return RobotPgCli.ExitOk;
            }
            if (loop.FatalCause is not null)
            {
                error.WriteLine(FatalLine(loop));
                return RobotPgCli.ExitFault;
            }
            return RobotPgCli.ExitOk;

            static string? learningStopped(ControllerHost h) =>
                h.Learning?.Learner is { LearningStopped: true } l ? $"robotpg: learning stopped after {l.Faults} learner faults ({l.LastFailure}); the robot ran its last good policy" : null;

            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true; // we exit ourselves, after the motors and the log
                host.RequestStop();
            }
        }
    }
}
