using System.CommandLine;
using System.Globalization;
using System.Text;
using RobotPG.Controller.Logging;
using RobotPG.Controller.Logging.Mcap;
using RobotPG.Controller.Tasks;

namespace RobotPG.Controller.Cli;

/// <summary><c>robotpg log info FILE</c> and <c>robotpg log export FILE [--csv OUT] [--mcap OUT]</c>.</summary>
public static class LogCommand
{
    public static Command Create()
    {
        var command = new Command("log", "Inspect and export trajectory logs.");
        command.Subcommands.Add(CreateInfo());
        command.Subcommands.Add(CreateExport());
        return command;
    }

    private static Command CreateInfo()
    {
        var file = new Argument<string>("file") { Description = "Trajectory log (.rpglog)." };
        var command = new Command("info", "Header, record counts, corrupt records and the torn tail of a log.");
        command.Arguments.Add(file);
        command.SetAction(parseResult =>
            Info(parseResult.GetValue(file)!, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        return command;
    }

    private static Command CreateExport()
    {
        var file = new Argument<string>("file") { Description = "Trajectory log (.rpglog)." };
        var csv = new Option<string>("--csv") { Description = "CSV file to write (named columns)." };
        var mcap = new Option<string>("--mcap") { Description = "MCAP file to write (for Foxglove and PlotJuggler)." };
        var command = new Command("export", "Write every valid record of a log as CSV and/or MCAP.");
        command.Arguments.Add(file);
        command.Options.Add(csv);
        command.Options.Add(mcap);
        command.SetAction(parseResult =>
        {
            string path = parseResult.GetValue(file)!;
            string? csvPath = parseResult.GetValue(csv), mcapPath = parseResult.GetValue(mcap);
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            if (csvPath is null && mcapPath is null)
            {
                error.WriteLine("robotpg log export: give --csv OUT and/or --mcap OUT");
                return RobotPgCli.ExitUsage;
            }
            int status = RobotPgCli.ExitOk;
            if (csvPath is not null)
                status = ExportCsv(path, csvPath, output, error);
            if (status == RobotPgCli.ExitOk && mcapPath is not null)
                status = ExportMcap(path, mcapPath, output, error);
            return status;
        });
        return command;
    }

    public static int Info(string path, TextWriter output, TextWriter error)
    {
        if (Open(path, error) is not { } reader)
            return RobotPgCli.ExitUsage;
        if (Updates(path, error) is not { } updates)
        {
            reader.Dispose();
            return RobotPgCli.ExitUsage;
        }
        using (reader)
        {
            long first = -1, last = -1, episodes = 0, safetySteps = 0, safetyStops = 0, firstTimeNs = 0, lastTimeNs = 0;
            bool stopped = false;
            while (reader.TryReadNext(out var r))
            {
                if (first < 0)
                {
                    first = r.Step;
                    firstTimeNs = r.TimeNs;
                }
                last = r.Step;
                lastTimeNs = r.TimeNs;
                bool stop = (r.Flags & TransitionFlags.SafetyStop) != 0;
                if (stop && !stopped)
                    safetyStops++;
                stopped = stop;
                if ((r.Flags & (TransitionFlags.Terminated | TransitionFlags.Truncated)) != 0)
                    episodes++;
                if ((r.Flags & TransitionFlags.SafetyStop) != 0)
                    safetySteps++;
            }
            var h = reader.Header;
            var inv = CultureInfo.InvariantCulture;
            output.WriteLine(string.Create(inv, $"file: {path}"));
            output.WriteLine(string.Create(inv, $"robot: {h.RobotId}"));
            output.WriteLine(string.Create(inv, $"task: {(h.Task.Length > 0 ? h.Task : "unknown")}"));
            output.WriteLine(string.Create(inv, $"file index: {h.FileIndex}"));
            output.WriteLine(string.Create(inv, $"started: {h.StartTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}"));
            output.WriteLine(string.Create(inv, $"policy hash: {h.PolicyHash:x16}"));
            output.WriteLine(string.Create(inv, $"observation size: {h.ObservationSize}, action size: {h.ActionSize}, record size: {reader.RecordSize} bytes"));
            output.WriteLine(string.Create(inv, $"records: {reader.ValidRecords}"));
            output.WriteLine(string.Create(inv, $"corrupt records: {reader.CorruptRecords}"));
            output.WriteLine(string.Create(inv, $"torn tail: {reader.TornTailBytes} bytes"));
            if (first >= 0)
            {
                output.WriteLine(string.Create(inv, $"steps: {first}..{last}, last at {lastTimeNs / 1e9:F3} s"));
                // Unix ns, as the MCAP export stamps its messages.
                long startNs = (h.StartTime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
                output.WriteLine(string.Create(inv, $"log time: {startNs + firstTimeNs}..{startNs + lastTimeNs} ns"));
            }
            output.WriteLine(string.Create(inv, $"episode ends: {episodes}, steps under safety stop: {safetySteps}, safety stops: {safetyStops}"));
            output.WriteLine(updates.FilePresent
                ? string.Create(inv, $"learning updates: {updates.Records.Count} (accepted {updates.Count(LearningUpdateEvent.Accepted)}, rejected {updates.Count(LearningUpdateEvent.Rejected)}, rolled back {updates.Count(LearningUpdateEvent.RolledBack)}; {updates.CorruptRecords} corrupt skipped, {updates.TornTailBytes} torn tail bytes)")
                : $"learning updates: 0 (no {LearningUpdateLogFormat.FileExtension} file next to the log)");
            return RobotPgCli.ExitOk;
        }
    }

    public static int ExportCsv(string path, string csvPath, TextWriter output, TextWriter error)
    {
        if (Open(path, error) is not { } reader)
            return RobotPgCli.ExitUsage;
        using (reader)
        {
            try
            {
                using var csv = new StreamWriter(csvPath, append: false, new UTF8Encoding(false));
                WriteCsv(reader, csv);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"{csvPath}: cannot write: {e.Message}");
                return RobotPgCli.ExitFailure;
            }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{csvPath}: {reader.ValidRecords} records ({reader.CorruptRecords} corrupt skipped, {reader.TornTailBytes} torn tail bytes)"));
            return RobotPgCli.ExitOk;
        }
    }

    public static int ExportMcap(string path, string mcapPath, TextWriter output, TextWriter error)
    {
        if (Open(path, error) is not { } reader)
            return RobotPgCli.ExitUsage;
        if (Updates(path, error) is not { } updates)
        {
            reader.Dispose();
            return RobotPgCli.ExitUsage;
        }
        using (reader)
        {
            McapExportCounts counts;
            try
            {
                using var file = new FileStream(mcapPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                counts = TrajectoryMcapExport.Write(reader, file, updates.Records);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"{mcapPath}: cannot write: {e.Message}");
                return RobotPgCli.ExitFailure;
            }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mcapPath}: {counts.Observations} steps, {counts.Episodes} episode ends, {counts.SafetyStops} safety stops, {counts.LearningUpdates} learning updates ({reader.CorruptRecords} corrupt skipped, {reader.TornTailBytes} torn tail bytes)"));
            return RobotPgCli.ExitOk;
        }
    }

    /// <summary>Opens a log, or writes one line saying why it cannot be read (a missing, unreadable or foreign file is bad input: exit 2).</summary>
    private static TrajectoryLogReader? Open(string path, TextWriter error)
    {
        if (Directory.Exists(path))
        {
            string[] logs = Directory.GetFiles(path, "*" + TrajectoryLogFormat.FileExtension);
            Array.Sort(logs, StringComparer.Ordinal);
            error.WriteLine(logs.Length > 0
                ? $"{path}: is a directory; name one of its {logs.Length} logs, e.g. {logs[^1]}"
                : $"{path}: is a directory and holds no trajectory log (*{TrajectoryLogFormat.FileExtension})");
            return null;
        }
        try
        {
            return TrajectoryLogReader.Open(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"{path}: {e.Message}");
            return null;
        }
    }

    /// <summary>The learning updates next to a log (none for an older log); a damaged update file is one line and null.</summary>
    private static LearningUpdateLog? Updates(string path, TextWriter error)
    {
        try
        {
            return LearningUpdateLog.ReadFor(path);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            error.WriteLine($"{LearningUpdateLogFormat.PathFor(path)}: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// One header row, then one row per valid record: step, time_s, the observation named from the task
    /// (obs0.. if the log does not name its task), the motor duties, log_prob, reward, flag columns.
    /// </summary>
    public static void WriteCsv(TrajectoryLogReader reader, TextWriter csv)
    {
        var inv = CultureInfo.InvariantCulture;
        var line = new StringBuilder("step,time_s");
        foreach (string name in TaskShapes.ObservationNames(reader.Header.Task, reader.Header.ObservationSize))
            line.Append(',').Append(name);
        foreach (string name in TaskShapes.ActionNames(reader.Header.ActionSize))
            line.Append(',').Append(name);
        line.Append(",log_prob,reward,terminated,truncated,safety_stop,idle");
        csv.WriteLine(line);
        while (reader.TryReadNext(out var r))
        {
            line.Clear();
            line.Append(r.Step.ToString(inv)).Append(',').Append((r.TimeNs / 1e9).ToString("R", inv));
            foreach (float o in r.Observation)
                line.Append(',').Append(o.ToString("R", inv));
            foreach (float a in r.Action)
                line.Append(',').Append(a.ToString("R", inv));
            line.Append(',').Append(r.LogProb.ToString("R", inv)).Append(',').Append(r.Reward.ToString("R", inv));
            line.Append(',').Append((r.Flags & TransitionFlags.Terminated) != 0 ? '1' : '0');
            line.Append(',').Append((r.Flags & TransitionFlags.Truncated) != 0 ? '1' : '0');
            line.Append(',').Append((r.Flags & TransitionFlags.SafetyStop) != 0 ? '1' : '0');
            line.Append(',').Append((r.Flags & TransitionFlags.Idle) != 0 ? '1' : '0');
            csv.WriteLine(line);
        }
    }
}
