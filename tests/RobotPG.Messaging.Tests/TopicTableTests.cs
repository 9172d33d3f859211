using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Xunit;

namespace RobotPG.Messaging.Tests;

public class TopicTableTests
{
    private static string Readme([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln"))) dir = dir.Parent;
        return Path.Combine(dir!.FullName, "README.md");
    }

    [Fact]
    public void ReadmeTopicTableIsTheCodesTable()
    {
        // Rows of the README's "MQTT topics" table: | `topic` | from → to | payload | QoS | retained |
        var rows = File.ReadLines(Readme())
            .Select(line => Regex.Match(line, @"^\| `(robotpg/[^`]+)` \| [^|]+ \| [^|]+ \| (\d) \| (yes|no) \|$"))
            .Where(m => m.Success)
            .Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value), m.Groups[3].Value == "yes"))
            .ToList();
        var code = Topics.Table.Select(e => (e.Topic, e.Qos, e.Retained)).ToList();
        Assert.Equal(code, rows);

        // And the table's patterns are what the topic helpers build.
        var t = new Topics("bb");
        string[] built = [t.Status, t.Telemetry("episode"), t.Command(CommandNames.Start), t.Reply, t.Sensors, t.Actuators, t.Truth, t.Rollout, Topics.FleetPolicy("f")];
        for (int i = 0; i < built.Length; i++)
        {
            string filter = Regex.Replace(Topics.Table[i].Topic, @"\{[^}]+\}", "+");
            Assert.True(Topics.Matches(filter, built[i]), $"{built[i]} does not match {Topics.Table[i].Topic}");
        }
    }
}
