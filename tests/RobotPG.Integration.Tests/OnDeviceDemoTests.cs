using System.Text.Json;
using RobotPG.Sim.Demo;
using RobotPG.Sim.Serving;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary><c>robotpg-sim demo --clock lockstep --json</c>: one JSON object per update, then the final summary, and the files it names exist.</summary>
public sealed class OnDeviceDemoTests
{
    [Fact]
    public async Task The_demo_in_lockstep_prints_one_json_object_per_update_and_a_final_summary_naming_its_files()
    {
        string outDir = Path.Combine(Path.GetTempPath(), "robotpg-demo-" + Guid.NewGuid().ToString("N"));
        var output = new StringWriter();
        var run = new DemoRun(new DemoOptions
        {
            DurationSeconds = 80, // 4 000 steps at 50 Hz: three updates of 1 024
            Algorithm = "ppo",
            Seed = 3,
            Clock = SimClockMode.Lockstep,
            Json = true,
            OutputDirectory = outDir,
            PhysicsDirectory = OnDeviceSetup.PhysicsDirectory,
        }, output);
        int code = await run.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, code);

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var objects = lines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var final = objects[^1];
        Assert.True(final.GetProperty("final").GetBoolean());
        var updates = objects[..^1];
        Assert.Equal(final.GetProperty("updates").GetInt64(), updates.Length);
        Assert.True(updates.Length >= 3, $"{updates.Length} updates");
        for (int i = 0; i < updates.Length; i++)
        {
            Assert.Equal(i + 1, updates[i].GetProperty("update").GetInt64());
            Assert.True(updates[i].TryGetProperty("approxKl", out _));
            Assert.True(updates[i].TryGetProperty("explainedVariance", out _));
        }
        Assert.True(final.GetProperty("episodes").GetInt64() >= 1);
        Assert.InRange(final.GetProperty("meanBalanceSLast10").GetDouble(), 0, 10);
        Assert.Equal(0, final.GetProperty("rollbacks").GetInt64());
        Assert.True(final.TryGetProperty("periodErrorP99Us", out _));
        // Pre-trained in process, the policy already balances on the randomised robot most of the time.
        Assert.True(final.GetProperty("pretrainSteps").GetInt64() > 0);
        Assert.True(Directory.GetFiles(final.GetProperty("trajectoryLog").GetString()!, "*.rpglog").Length >= 1);
        Assert.True(File.Exists(final.GetProperty("checkpoint").GetString()));
        string svg = File.ReadAllText(final.GetProperty("learningCurve").GetString()!);
        Assert.StartsWith("<svg", svg);
        Directory.Delete(outDir, recursive: true);
    }
}
