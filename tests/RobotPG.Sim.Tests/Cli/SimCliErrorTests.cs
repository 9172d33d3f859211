using System.Globalization;
using System.Text.RegularExpressions;
using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

// The executable's own parse (SimCli.Run, what Program.cs runs): one line naming the cause, exit 2.
public class SimCliErrorTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = SimCli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("robotpg-sim: unknown command 'bogus' (commands: {COMMANDS}) (see robotpg-sim --help)", "bogus")]
    [InlineData("robotpg-sim: no command given (commands: {COMMANDS}) (see robotpg-sim --help)")]
    [InlineData("robotpg-sim demo: unknown option or argument 'maybe' (see robotpg-sim demo --help)", "demo", "--json", "maybe")]
    [InlineData("robotpg-sim demo: --duration must be a number of simulated seconds in (0, 1e6]", "demo", "--duration", "long")]
    [InlineData("robotpg-sim demo: give --broker or --broker-port, not both", "demo", "--broker-port", "1883", "--broker", "mqtt://127.0.0.1:1883")]
    [InlineData("robotpg-sim demo: --credentials needs --broker (the embedded broker of the demo is plain MQTT on loopback)", "demo", "--credentials", "x.credentials")]
    [InlineData("robotpg-sim demo: --broker: --ca-file: file not found: /nonexistent/ca.crt", "demo", "--broker", "mqtts://127.0.0.1:8883", "--ca-file", "/nonexistent/ca.crt")]
    [InlineData("robotpg-sim demo: --broker: --mqtt-version: '4' must be 5 or 3.1.1", "demo", "--broker-port", "1883", "--mqtt-version", "4")]
    [InlineData("robotpg-sim demo: --broker: --cert and --cert-key go together", "demo", "--broker", "mqtts://127.0.0.1:8883", "--cert", "/dev/null")]
    [InlineData("robotpg-sim train: unknown option or argument '--stpes' (see robotpg-sim train --help)", "train", "--env", "pendulum", "--out", "x", "--stpes", "5")]
    public void Parse_errors_are_one_line_naming_the_cause(string expected, params string[] args)
    {
        // The verb list is whatever the root registers (it grows with each verb); the message around it is fixed.
        expected = expected.Replace("{COMMANDS}", string.Join(", ", SimCli.Build().Subcommands.Select(c => c.Name)));
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal(expected + "\n", err);
        Assert.Equal("", output);
    }

    [Fact]
    public void Serve_refuses_a_broker_host_that_does_not_resolve_at_once()
    {
        // Before: ten seconds of connection attempts, then "Unspecified/x:1883". The .invalid TLD never resolves (RFC 2606).
        var (code, output, err) = Run("serve", "--broker", "tcp://robotpg-no-such-host.invalid");
        Assert.Equal(2, code);
        Assert.Matches(new Regex(@"^robotpg-sim serve: --broker: broker host 'robotpg-no-such-host\.invalid' does not resolve \(\w+\)\n$"), err);
        Assert.Equal("", output);
    }

    [Fact]
    public void Train_says_what_it_rounded_where_it_wrote_and_which_eval_seed_reproduces_its_number()
    {
        string dir = CliTestRun.TempDirectory();
        var (code, output, err) = Run("train", "--env", "pendulum", "--steps", "3000", "--seed", "3", "--out", dir);
        Assert.True(code == 0, err);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The pendulum's PPO batch is 8 × 256 = 2048 steps: 3000 trains one batch.
        Assert.Equal("training 2048 steps: 1 updates of 2048 steps (--steps 3000 rounded down to whole batches)", lines[0]);
        Assert.Equal($"wrote {Path.Combine(dir, "policy.rpgp")}", lines[^4]); // the best policy seen
        Assert.Equal($"wrote {Path.Combine(dir, "policy.final.rpgp")}", lines[^3]);
        Assert.Equal($"wrote {Path.Combine(dir, "learning_curve.csv")}", lines[^2]);
        Assert.Equal($"wrote {Path.Combine(dir, "learning_curve.svg")}", lines[^1]);
        Match done = Regex.Match(lines[^5], @"deterministic eval return (-?[0-9.]+) \(10 episodes from --seed (\d+),");
        Assert.True(done.Success, lines[^5]);
        Assert.Equal("1000003", done.Groups[2].Value);

        // eval with that seed prints the same mean: the two numbers differ only when the seeds do.
        var (evalCode, evalOut, evalErr) = Run("eval", "--policy", Path.Combine(dir, "policy.rpgp"), "--env", "pendulum", "--seed", done.Groups[2].Value);
        Assert.True(evalCode == 0, evalErr);
        string mean = Regex.Match(evalOut, @"mean deterministic return over 10 episodes: (-?[0-9.]+)").Groups[1].Value;
        Assert.Equal(done.Groups[1].Value, mean);
        Assert.NotEqual(0, double.Parse(mean, CultureInfo.InvariantCulture));
    }
}
