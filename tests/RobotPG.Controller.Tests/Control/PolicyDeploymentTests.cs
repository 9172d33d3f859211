using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Controller.Remote;
using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;
using RobotPG.Messaging.Security;

namespace RobotPG.Controller.Tests.Control;

/// <summary>
/// Save, load and push of policies on a robot that does not learn: the bytes on disk, the policy the loop runs
/// after each, and every refusal with its reason (the running policy then stays what it was).
/// </summary>
public sealed class PolicyDeploymentTests : IDisposable
{
    private const int Obs = 4, Act = 2;
    private static readonly int[] Hidden = [64, 64];
    private readonly TempDirectory _dir = new();
    private readonly OperatorKey _key = OperatorKey.Generate();

    public void Dispose()
    {
        _key.Dispose();
        _dir.Dispose();
    }

    private string Checkpoints => Path.Combine(_dir.Path, "ckpts");

    /// <summary>The shipped sim config with checkpoints under the temp directory, this test's operator key, and maxKl 1.</summary>
    private (PolicyDeployment Deployment, SignatureVerifier Verifier) Deployment(bool requireSigned)
    {
        var json = JsonNode.Parse(File.ReadAllText(RepoPaths.FirmwareConfig("balance-bot.sim.json")))!.AsObject();
        json.Remove("$schema");
        json["policy"]!["checkpointDirectory"] = "ckpts";
        json["policy"]!["maxKl"] = 1.0;
        File.WriteAllText(_dir.File("operator.pub.pem"), _key.PublicKeyPem);
        json["security"] = new JsonObject { ["operatorKeys"] = new JsonArray("operator.pub.pem"), ["requireSignedCheckpoints"] = requireSigned };
        var loaded = ConfigLoader.Parse(_dir.File("robot.json"), json.ToJsonString(), _dir.Path);
        Assert.True(loaded.Ok, string.Join("; ", loaded.Errors));
        var verifier = SignatureVerifier.FromFiles([_dir.File("operator.pub.pem")]);
        return (new PolicyDeployment(loaded.Config!, _dir.Path, verifier, Obs, Act), verifier);
    }

    private static GaussianPolicy Network(ulong seed, float logStdShift = 0)
    {
        var network = new GaussianPolicy(Obs, Act, Hidden, maxBatch: 1, seed: seed);
        foreach (ref float s in network.LogStd) s += logStdShift;
        return network;
    }

    private static RunningMeanStd Normalizer(int size = Obs)
    {
        var n = new RunningMeanStd(size);
        n.Restore([.. Enumerable.Range(0, size).Select(i => 0.1 * i)], [.. Enumerable.Range(0, size).Select(i => 1.0 + i)], count: 50);
        return n;
    }

    private static byte[] Checkpoint(GaussianPolicy network, RunningMeanStd? normalizer = null) =>
        CheckpointFile.Serialize(new TrainingState { Policy = network, ObservationNormalizer = normalizer ?? Normalizer() });

    private byte[] SignedFile(byte[] checkpoint) => _key.Sign("balance-bot", SignedMessage.PolicyPurpose, checkpoint).ToEnvelope();

    /// <summary>XxHash64 of the parameters, computed here: what the loop must run after a swap.</summary>
    private static ulong HashOf(GaussianPolicy network) => XxHash64.HashToUInt64(MemoryMarshal.AsBytes((ReadOnlySpan<float>)network.Parameters));

    /// <summary>An exchange running <paramref name="running"/> and a window of 50 varied observations.</summary>
    private static (PolicyExchange Exchange, ObservationWindow Window) Loop(PolicyDeployment deployment, ControlPolicy running)
    {
        var exchange = new PolicyExchange(running);
        var window = new ObservationWindow(Obs, 256);
        for (int i = 0; i < 50; i++) window.Record([MathF.Sin(i), 0.1f * i, MathF.Cos(3 * i), -0.5f + 0.02f * i]);
        deployment.Attach(exchange, window);
        return (exchange, window);
    }

    private ControlPolicy Running(PolicyDeployment deployment, GaussianPolicy network)
    {
        string file = _dir.File("start.ckpt");
        File.WriteAllBytes(file, SignedFile(Checkpoint(network)));
        return deployment.FromDisk(file);
    }

    [Fact]
    public void Save_writes_the_running_signed_policy_byte_for_byte_and_load_brings_it_back_at_the_next_step()
    {
        var (deployment, verifier) = Deployment(requireSigned: true);
        using var keys = verifier;
        var first = Network(11);
        byte[] firstFile = SignedFile(Checkpoint(first));
        File.WriteAllBytes(_dir.File("start.ckpt"), firstFile);
        var (exchange, _) = Loop(deployment, deployment.FromDisk(_dir.File("start.ckpt")));

        Assert.Null(deployment.Save(null, out string? path, out ulong hash));
        Assert.Equal(Path.Combine(Checkpoints, PolicyDeployment.DefaultSaveName), path);
        Assert.Equal(HashOf(first), hash);
        Assert.Equal(firstFile, File.ReadAllBytes(path!)); // the operator's envelope: still signed, loadable under requireSignedCheckpoints
        Assert.Null(deployment.Save("keep.ckpt", out string? kept, out _));
        Assert.Equal(firstFile, File.ReadAllBytes(kept!));
        Assert.Equal(["keep.ckpt", "latest.ckpt"], Directory.GetFiles(Checkpoints).Select(f => Path.GetFileName(f)).Order().ToArray());

        // A nearby policy (log σ + 0.3: KL well inside the bound) pushed, swapped in at the next step, then keep.ckpt loaded back.
        var second = Network(11, logStdShift: 0.3f);
        byte[] secondFile = SignedFile(Checkpoint(second));
        Assert.Null(deployment.InstallPushed(secondFile, Checkpoint(second), _key.KeyId));
        Assert.Equal(HashOf(first), exchange.Current.Hash);
        Assert.Equal(HashOf(second), exchange.AcquireForStep().Hash);
        Assert.Null(deployment.Save(null, out path, out hash));
        Assert.Equal(secondFile, File.ReadAllBytes(path!));
        Assert.Equal(HashOf(second), hash);

        Assert.Null(deployment.Load("keep.ckpt", out string? loaded));
        Assert.Equal(kept, loaded);
        Assert.Equal(HashOf(first), exchange.AcquireForStep().Hash);
        Assert.Equal(2L, exchange.Swaps);
    }

    [Fact]
    public void Save_reads_the_file_back_before_it_replaces_the_last_good_one()
    {
        var (deployment, verifier) = Deployment(requireSigned: false);
        using var keys = verifier;
        File.WriteAllBytes(_dir.File("start.ckpt"), Checkpoint(Network(5)));
        var (exchange, _) = Loop(deployment, deployment.FromDisk(_dir.File("start.ckpt")));
        Assert.Null(deployment.Save("good.ckpt", out string? good, out _));
        byte[] goodBytes = File.ReadAllBytes(good!);

        // The running policy's bytes went bad in memory (a bit flip): the temp file does not read back, the good file stays.
        byte[] flipped = exchange.Current.Stored.ToArray();
        flipped[^40] ^= 0x10;
        exchange.Current.Stored = flipped;
        string? refusal = deployment.Save("good.ckpt", out _, out _);
        Assert.NotNull(refusal);
        Assert.Contains("CRC", refusal);
        Assert.Equal(goodBytes, File.ReadAllBytes(good!));
        Assert.Equal(["good.ckpt"], Directory.GetFiles(Checkpoints).Select(f => Path.GetFileName(f)).ToArray());

        var zero = new PolicyExchange(ControlPolicy.Zero(Obs, Act));
        deployment.Attach(zero, new ObservationWindow(Obs, 4));
        Assert.Contains("zero policy", deployment.Save(null, out _, out _));
    }

    [Theory]
    [InlineData("../robot.json")]
    [InlineData("/etc/passwd")]
    [InlineData("sub/dir.ckpt")]
    [InlineData("..")]
    [InlineData(".hidden")]
    [InlineData("a\\b.ckpt")]
    [InlineData("")]
    [InlineData(null)]
    public void Load_and_save_take_a_file_name_in_the_checkpoint_directory_never_a_path(string? name)
    {
        var (deployment, verifier) = Deployment(requireSigned: false);
        using var keys = verifier;
        var running = Running(deployment, Network(5));
        var (exchange, _) = Loop(deployment, running);
        string? refusal = deployment.Load(name, out _);
        Assert.NotNull(refusal);
        Assert.Contains(name is null or "" ? "give the checkpoint's file name" : "must be a file name in the robot's checkpoint directory", refusal);
        if (name is not null) Assert.NotNull(deployment.Save(name, out _, out _));
        Assert.Same(running, exchange.AcquireForStep());
        Assert.Equal(0L, exchange.Swaps);
    }

    public static TheoryData<string, string> BadCheckpoints => new()
    {
        { "unsigned", "is not signed by an operator key" },
        { "forged", "signature refused (UnknownKey)" },
        { "crc", "CRC" },
        { "hidden", "hidden sizes [32, 32] differ from the config's [64, 64]" },
        { "normaliser", "observation normaliser has 3 components, the task observes 4" },
        { "nan", "value 7 is not finite" },
        { "far", "above the bound 1 (policy.maxKl)" },
        { "missing", "file not found" },
    };

    [Theory]
    [MemberData(nameof(BadCheckpoints))]
    public void Load_refuses_what_a_push_would_refuse_and_the_running_policy_stays(string kind, string reason)
    {
        var (deployment, verifier) = Deployment(requireSigned: true);
        using var keys = verifier;
        var running = Running(deployment, Network(5));
        var (exchange, _) = Loop(deployment, running);
        Directory.CreateDirectory(Checkpoints);
        using var stranger = OperatorKey.Generate();
        byte[] bytes = kind switch
        {
            "unsigned" => Checkpoint(Network(5)),
            "forged" => stranger.Sign("balance-bot", SignedMessage.PolicyPurpose, Checkpoint(Network(5))).ToEnvelope(),
            "crc" => Corrupt(Checkpoint(Network(5))),
            "hidden" => SignedFile(CheckpointFile.Serialize(new TrainingState { Policy = new GaussianPolicy(Obs, Act, [32, 32], 1, 5) })),
            "normaliser" => SignedFile(Checkpoint(Network(5), Normalizer(3))),
            "nan" => SignedFile(Checkpoint(WithNaN(Network(5)))),
            "far" => SignedFile(Checkpoint(Network(5, logStdShift: 1.0f))),
            _ => [],
        };
        if (kind != "missing") File.WriteAllBytes(Path.Combine(Checkpoints, kind + ".ckpt"), kind == "crc" ? SignedFile(bytes) : bytes);
        string? refusal = deployment.Load(kind + ".ckpt", out string? path);
        Assert.NotNull(refusal);
        Assert.Contains(reason, refusal);
        Assert.Equal(Path.Combine(Checkpoints, kind + ".ckpt"), path);
        Assert.Same(running, exchange.AcquireForStep());
        Assert.Equal(HashOf(Network(5)), exchange.Current.Hash);
        Assert.Equal(0L, exchange.Swaps);
    }

    private static byte[] Corrupt(byte[] checkpoint)
    {
        checkpoint[^10] ^= 0x40;
        return checkpoint;
    }

    private static GaussianPolicy WithNaN(GaussianPolicy network)
    {
        network.Parameters[7] = float.NaN;
        return network;
    }

    /// <summary>Same means, every log σ shifted by δ: KL(old ‖ new) = Σ_j [δ + e^(−2δ)/2 − ½] at every observation (closed form).</summary>
    [Theory]
    [InlineData(1.0, false)]
    [InlineData(0.3, true)]
    [InlineData(-0.8, false)]
    public void A_pushed_policy_passes_the_KL_bound_against_the_running_one(double delta, bool accepted)
    {
        var (deployment, verifier) = Deployment(requireSigned: false);
        using var keys = verifier;
        var running = Running(deployment, Network(5));
        var (exchange, _) = Loop(deployment, running);
        var next = Network(5, logStdShift: (float)delta);
        double expected = Act * (delta + Math.Exp(-2 * delta) / 2 - 0.5);
        float[] three = [0.3f, -1, 2, 0.5f, 4, 4, -4, 0, 1, 1, 1, 1];
        Assert.Equal(expected, running.MeanKl(ControlPolicy.FromCheckpoint("x", Checkpoint(next), Obs, Act, Hidden, false), three, 3), 5);
        string? refusal = deployment.InstallPushed(SignedFile(Checkpoint(next)), Checkpoint(next), _key.KeyId);
        if (accepted)
        {
            Assert.Null(refusal);
            Assert.Equal(HashOf(next), exchange.AcquireForStep().Hash);
            return;
        }
        Assert.Equal($"pushed by {_key.KeyId}: mean KL {expected:G3} from the running policy on 50 recent observations is above the bound 1 (policy.maxKl)", refusal);
        Assert.Same(running, exchange.AcquireForStep());
        Assert.Equal(HashOf(Network(5)), exchange.Current.Hash);
    }

    [Fact]
    public void The_first_policy_on_a_zero_policy_robot_has_no_KL_to_judge()
    {
        var (deployment, verifier) = Deployment(requireSigned: false);
        using var keys = verifier;
        var (exchange, _) = Loop(deployment, ControlPolicy.Zero(Obs, Act));
        var far = Network(9, logStdShift: 2);
        Assert.Null(deployment.InstallPushed(SignedFile(Checkpoint(far)), Checkpoint(far), _key.KeyId));
        Assert.Equal(HashOf(far), exchange.AcquireForStep().Hash);
    }

    [Fact]
    public void The_observation_window_keeps_the_latest_observations()
    {
        var window = new ObservationWindow(2, 4);
        Assert.Empty(window.Copy(out int none));
        Assert.Equal(0, none);
        for (int i = 0; i < 7; i++) window.Record([i, 10 * i]);
        float[] held = window.Copy(out int count);
        Assert.Equal(4, count);
        var rows = Enumerable.Range(0, count).Select(r => (held[2 * r], held[2 * r + 1])).OrderBy(r => r.Item1);
        Assert.Equal([(3f, 30f), (4f, 40f), (5f, 50f), (6f, 60f)], rows);
    }
}
