using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using RobotPG.Controller.Cli;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Learning;
using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// The README stays honest: every command and option it shows exists in the programs, every command
/// line in its code blocks parses, every file it promises is a name the programs write, its learning
/// snippet makes a valid config, and its walk-through runs in order (with small step counts).
/// </summary>
public sealed partial class ReadmeTests
{
    private static readonly string Root = OnDeviceSetup.RepoRoot();
    private static readonly string Readme = File.ReadAllText(Path.Combine(Root, "README.md"));

    [GeneratedRegex(@"`([^`\n]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"```(\w*)\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    private static IEnumerable<(string Language, string Text)> Blocks(string markdown) =>
        CodeBlock().Matches(markdown).Select(m => (m.Groups[1].Value, m.Groups[2].Value));

    /// <summary>Command lines: code spans and code-block lines that start with one of the two programs.</summary>
    private static List<string> CommandLines()
    {
        var lines = new List<string>();
        string withoutBlocks = CodeBlock().Replace(Readme, "");
        foreach (Match m in CodeSpan().Matches(withoutBlocks))
            if (IsCommand(m.Groups[1].Value)) lines.Add(m.Groups[1].Value);
        foreach (var (_, text) in Blocks(Readme))
            foreach (string line in text.Split('\n'))
                if (IsCommand(line.Trim())) lines.Add(line.Trim());
        return lines;
    }

    private static bool IsCommand(string s) => s.StartsWith("robotpg ", StringComparison.Ordinal) || s.StartsWith("robotpg-sim ", StringComparison.Ordinal);

    private static RootCommand RootFor(string program) => program == "robotpg" ? RobotPgCli.Build() : SimCli.Build();

    [Fact]
    public void Every_command_and_option_the_readme_shows_exists()
    {
        var lines = CommandLines();
        Assert.True(lines.Count >= 25, $"only {lines.Count} command lines found");
        foreach (string line in lines)
        {
            string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Command command = RootFor(words[0]);
            int i = 1;
            while (i < words.Length && command.Subcommands.FirstOrDefault(c => c.Name == words[i]) is { } sub)
            {
                command = sub;
                i++;
            }
            Assert.True(command is not RootCommand || words[1] == "--help", $"'{line}': no such command");
            foreach (string word in words.Skip(i))
            {
                foreach (Match option in Regex.Matches(word, @"--[a-z][a-z0-9-]*"))
                {
                    string name = option.Value;
                    bool known = name == "--help" || command.Options.Any(o => o.Name == name || o.Aliases.Contains(name));
                    Assert.True(known, $"'{line}': {command.Name} has no option {name}");
                }
            }
        }
    }

    [Fact]
    public void Every_command_line_in_a_code_block_parses()
    {
        int parsed = 0;
        foreach (var (_, text) in Blocks(Readme))
        {
            // Shell variables the block itself sets (NAME="...") are expanded as bash would; any other $NAME fails the parse.
            var variables = new Dictionary<string, string>();
            foreach (string raw in text.Split('\n'))
            {
                string line = raw.Trim();
                var assignment = Regex.Match(line, @"^([A-Z_]+)=""([^""]*)""$");
                if (assignment.Success) { variables[assignment.Groups[1].Value] = assignment.Groups[2].Value; continue; }
                if (!IsCommand(line)) continue;
                line = Regex.Replace(line, @"\$([A-Z_]+)\b", v => variables.TryGetValue(v.Groups[1].Value, out string? value) ? value : v.Value);
                line = Regex.Replace(line, @"""\$\(.*?\)""", "some.rpglog");
                line = Regex.Replace(line, @"\s+#.*$", "").TrimEnd('&', ' ');
                string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                ParseResult result = RootFor(words[0]).Parse(words[1..]);
                Assert.True(result.Errors.Count == 0, $"'{raw.Trim()}': {string.Join("; ", result.Errors.Select(e => e.Message))}");
                parsed++;
            }
        }
        Assert.True(parsed >= 8, $"only {parsed} command lines in code blocks");
    }

    [Fact]
    public void Every_file_name_the_readme_promises_is_what_the_programs_write()
    {
        string[] written =
        [
            TrainCommand.CheckpointFileName, TrainCommand.LinearPolicyFileName, TrainCommand.CurveCsvFileName, TrainCommand.CurveSvgFileName,
            CompareCommand.SvgFileName, CompareCommand.CurvesFileName, CompareCommand.SummaryFileName,
            TrainCommand.FinalCheckpointFileName, RobotPG.Sim.Fleet.FleetRun.FleetCurveFileName, OnDeviceLearner.BestCheckpointName, LearnerCheckpoints.LatestName, LearnerCheckpoints.PreviousName,
            RobotPG.Controller.Remote.PolicyDeployment.DefaultSaveName,
        ];
        int checkedNames = 0;
        foreach (string markdown in (string[])[Readme, File.ReadAllText(Path.Combine(Root, "firmware-config", "README.md"))])
        {
            foreach (Match m in CodeSpan().Matches(CodeBlock().Replace(markdown, "")))
            {
                string span = m.Groups[1].Value;
                if (IsCommand(span) || span.Contains(' ')) continue;
                if (!Regex.IsMatch(span, @"\.(svg|csv|rpgp|ckpt|json)$")) continue;
                checkedNames++;
                string name = span.Split('/')[^1];
                bool ok = written.Contains(name) || File.Exists(Path.Combine(Root, span)) || File.Exists(Path.Combine(Root, "firmware-config", span))
                    || span.StartsWith("/etc/robotpg/", StringComparison.Ordinal) || name.EndsWith(".physics.json", StringComparison.Ordinal)
                    // a name the reader chose in one of the README's own export commands (e.g. --csv run.csv)
                    || Regex.IsMatch(markdown, $@"--(csv|mcap)\s+{Regex.Escape(span)}\b")
                    // a pattern of names (curve-<robot>.csv): the fleet test checks those files
                    || span.Contains('<');
                Assert.True(ok, $"the README promises `{span}`, which no program writes and the repository does not hold");
            }
        }
        Assert.True(checkedNames >= 8, $"only {checkedNames} file names checked");
        // The demo and train name their curves alike.
        Assert.DoesNotContain("learning-curve", Readme);
        Assert.Contains("`learning_curve.svg`", Readme);
    }

    [Fact]
    public void The_learning_section_the_walk_through_adds_makes_a_valid_robot_config()
    {
        string snippet = Blocks(Readme).First(b => b.Language == "json" && b.Text.Contains("\"learning\"")).Text;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "firmware-config", "balance-bot.json")))!.AsObject();
        var learning = JsonNode.Parse("{" + snippet.Trim() + "}")!.AsObject();
        config["learning"] = learning["learning"]!.DeepClone();
        var loaded = ConfigLoader.Parse("robot.json", config.ToJsonString(), Path.Combine(Root, "firmware-config"));
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors.Select(e => e.Format("robot.json"))));
        Assert.Equal("ppo", loaded.Config!.Learning!.Algorithm);
        Assert.Equal("/var/lib/robotpg/checkpoints", loaded.Config.Learning.CheckpointDirectory); // the service may write only under /var/lib/robotpg
        Assert.Contains("ReadWritePaths=/var/lib/robotpg", File.ReadAllText(Path.Combine(Root, "firmware-config", "robotpg.service")));
    }

    [Fact]
    public async Task The_walk_through_runs_in_order_on_the_desktop()
    {
        // The desktop steps: from "## Walk-through" to the Pi step; the Pi steps need a Pi.
        int start = Readme.IndexOf("## Walk-through", StringComparison.Ordinal);
        int end = Readme.IndexOf("### 5. Deploy to the Pi", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start);
        int port = FreePort();
        var script = new List<string> { "set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT" };
        foreach (var (language, text) in Blocks(Readme[start..end]))
        {
            if (language != "bash") continue;
            foreach (string raw in text.Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith("dotnet ", StringComparison.Ordinal)) continue; // the test's own build holds both programs
                if (line.StartsWith("export PATH=", StringComparison.Ordinal))
                    line = $"export PATH=\"{AppContext.BaseDirectory}:$PATH\"";
                // Small step counts; the walk-through's own port becomes a free one (tests never bind fixed ports).
                line = Regex.Replace(line, @"--steps \d+", "--steps 2100").Replace("--duration 20", "--duration 2").Replace("1883", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
                script.Add(line);
            }
        }
        Assert.Contains(script, l => l.StartsWith("robotpg-sim train --env balance-bot", StringComparison.Ordinal));
        Assert.Contains(script, l => l.StartsWith("robotpg run ", StringComparison.Ordinal));

        string work = Path.Combine(Path.GetTempPath(), "robotpg-readme-" + Guid.NewGuid().ToString("N"));
        string firmware = Path.Combine(work, "firmware-config");
        Directory.CreateDirectory(firmware);
        try
        {
            foreach (string file in Directory.GetFiles(Path.Combine(Root, "firmware-config"), "*.json"))
                File.WriteAllText(Path.Combine(firmware, Path.GetFileName(file)), File.ReadAllText(file).Replace("1883", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            string scriptFile = Path.Combine(work, "walk-through.sh");
            File.WriteAllText(scriptFile, string.Join('\n', script) + "\n");

            var start_ = new ProcessStartInfo("bash", [scriptFile]) { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start_)!;
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            string output = await stdout, errors = await stderr;
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{string.Join('\n', script)}\n--- stdout\n{output}\n--- stderr\n{errors}");

            // What the walk-through promises is there.
            Assert.Contains($"wrote {Path.Combine(work, "runs", "balance-bot", "policy.rpgp")}", output);
            Assert.True(File.Exists(Path.Combine(work, "runs", "balance-bot", "learning_curve.svg")));
            Assert.Contains("mean deterministic return over 10 episodes:", output);
            Assert.Contains("tag: ", output);                      // robotpg policy info
            Assert.Contains("records: 400\n", output);             // robotpg log info: 2 s at 200 Hz, every step logged
            Assert.Single(Directory.GetFiles(Path.Combine(work, "logs"), "*.rpglog"));
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
