using System.Diagnostics;
using Xunit;

namespace RobotPG.Integration.Tests;

/// <summary>
/// Runs a script of tests/js (the independent JavaScript checks: @mcap/core, Playwright) with Node.
/// CI installs node and runs <c>npm ci</c> there first; missing either is a failure that says so.
/// </summary>
internal static class NodeChecks
{
    public static string Directory => Path.Combine(OnDeviceSetup.RepoRoot(), "tests", "js");

    public static (int ExitCode, string Stdout, string Stderr) Run(TimeSpan timeout, string script, params string[] args)
    {
        Assert.True(System.IO.Directory.Exists(Path.Combine(Directory, "node_modules")),
            $"{Directory}/node_modules is missing: run `npm ci` in {Directory} (.ci/run does)");
        var start = new ProcessStartInfo("node") { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node {script} did not finish within {timeout.TotalSeconds} s; stderr: {stderr.Result}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
