using RobotPG.Controller.Configuration;
using RobotPG.Controller.Control;
using RobotPG.Learning.Checkpoints;
using RobotPG.Messaging.Security;

namespace RobotPG.Controller.Remote;

/// <summary>
/// Every way a policy reaches a running robot that does not learn: a checkpoint from disk at start, a signed
/// push (<c>cmd/policy</c>), <c>cmd/load</c> from the robot's checkpoint directory, and <c>cmd/save</c> back to it.
/// All go through the same checks — operator signature (required by security.requireSignedCheckpoints, always
/// checked when present), format and CRC, layer sizes, normaliser, finite parameters, and, against the running
/// policy, the mean KL bound (policy.maxKl) on the robot's recent observations — and a policy that passes them is
/// handed to the loop, which swaps it in at its next step. A refusal leaves the running policy untouched.
/// Runs on the command thread; serialised, so two installs never judge against the same running policy.
/// </summary>
public sealed class PolicyDeployment
{
    private readonly RobotConfig _config;
    private readonly SignatureVerifier? _verifier;
    private readonly int _observationSize, _actionSize;
    private readonly Lock _gate = new();
    private PolicyExchange? _exchange;
    private ObservationWindow? _observations;
    private ControlPolicy? _installed;

    public PolicyDeployment(RobotConfig config, string configDirectory, SignatureVerifier? verifier, int observationSize, int actionSize)
    {
        _config = config;
        _verifier = verifier;
        _observationSize = observationSize;
        _actionSize = actionSize;
        CheckpointDirectory = Path.GetFullPath(Path.Combine(configDirectory, config.Policy.CheckpointDirectory));
    }

    /// <summary>Where save writes and load reads (policy.checkpointDirectory).</summary>
    public string CheckpointDirectory { get; }

    /// <summary>Name save uses when the command names none.</summary>
    public const string DefaultSaveName = "latest.ckpt";

    /// <summary>Connects to the running loop: installs go to <paramref name="exchange"/>, judged on <paramref name="observations"/>.</summary>
    public void Attach(PolicyExchange exchange, ObservationWindow observations)
    {
        _exchange = exchange;
        _observations = observations;
        _installed = exchange.Current;
    }

    /// <summary>
    /// A checkpoint file: a signed envelope must carry an operator signature for this robot (its age does not matter:
    /// files are not replayed commands); an unsigned file is refused when security.requireSignedCheckpoints is set.
    /// Then the format checks. Throws <see cref="CheckpointException"/>.
    /// </summary>
    public ControlPolicy FromDisk(string path, string? source = null)
    {
        byte[] stored = CheckpointFile.ReadAllBytes(path);
        return Parse(path, source ?? path, stored, Unwrap(path, stored));
    }

    /// <summary>Pushed bytes whose signature the command path already checked (<paramref name="body"/> is the envelope's body).</summary>
    public string? InstallPushed(ReadOnlyMemory<byte> envelope, ReadOnlyMemory<byte> body, string signer)
    {
        try
        {
            return Install(Parse($"pushed by {signer}", $"pushed by {signer}", envelope, body));
        }
        catch (CheckpointException e)
        {
            return OneLine(e.Message);
        }
    }

    /// <summary>cmd/load: <paramref name="name"/> in the checkpoint directory through every check, then swapped in. Null when it was.</summary>
    public string? Load(string? name, out string? path)
    {
        path = null;
        if (NameProblem(name) is { } problem) return problem;
        path = Path.Combine(CheckpointDirectory, name!);
        try
        {
            return Install(FromDisk(path));
        }
        catch (CheckpointException e)
        {
            return OneLine(e.Message);
        }
    }

    /// <summary>
    /// cmd/save: the running policy's bytes (a signed policy stays signed) to <paramref name="name"/> in the checkpoint
    /// directory. Written to a temp file and read back through the load checks before it replaces the file of that
    /// name, so the last good checkpoint is never overwritten by something that would not load. Null when saved.
    /// </summary>
    public string? Save(string? name, out string? path, out ulong hash)
    {
        path = null;
        hash = 0;
        name ??= DefaultSaveName;
        if (NameProblem(name) is { } problem) return problem;
        if (_exchange is null) return "the control loop is not running";
        var running = _exchange.Current;
        if (!running.HasNetwork) return "the running policy is the zero policy: there is nothing to save";
        if (running.Stored.IsEmpty) return "the running policy was not loaded from a checkpoint";
        string target = Path.Combine(CheckpointDirectory, name);
        try
        {
            Directory.CreateDirectory(CheckpointDirectory);
            CheckpointFile.WriteAtomic(target, running.Stored.Span, written =>
            {
                var back = FromDisk(written);
                if (back.Hash != running.Hash)
                    throw new CheckpointException(written, $"read back as policy {back.Hash:x16}, not the running {running.Hash:x16}");
            });
        }
        catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
        {
            return OneLine(e.Message);
        }
        path = target;
        hash = running.Hash;
        return null;
    }

    /// <summary>Null when <paramref name="name"/> is a plain file name in the checkpoint directory; else why not.</summary>
    public static string? NameProblem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "give the checkpoint's file name: {\"name\": \"NAME.ckpt\"}";
        if (name.Length > 100 || name.Contains("..", StringComparison.Ordinal) || name[0] == '.' || Path.IsPathRooted(name)
            || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')))
            return $"name '{name}' must be a file name in the robot's checkpoint directory (letters, digits, '.', '_', '-'; no path, no '..')";
        return null;
    }

    private ReadOnlyMemory<byte> Unwrap(string path, byte[] stored)
    {
        bool required = _config.Security?.RequireSignedCheckpoints == true;
        if (!SignedMessage.IsEnvelope(stored))
            return required ? throw new CheckpointException(path, "is not signed by an operator key (security.requireSignedCheckpoints)") : stored;
        var message = SignedMessage.TryParseEnvelope(stored, out _, out string? error)
            ?? throw new CheckpointException(path, "signature envelope: " + error);
        if (_verifier is null)
            throw new CheckpointException(path, "is signed, but security.operatorKeys lists no key to check it with");
        var verdict = _verifier.Verify(message, _config.RobotId, SignedMessage.PolicyPurpose, Freshness.NotChecked, out string? reason);
        if (verdict != SignatureVerdict.Accepted)
            throw new CheckpointException(path, $"signature refused ({verdict}): {reason}");
        return message.Body;
    }

    private ControlPolicy Parse(string path, string source, ReadOnlyMemory<byte> stored, ReadOnlyMemory<byte> body)
    {
        var policy = ControlPolicy.FromCheckpoint(path, body.Span, _observationSize, _actionSize, _config.Policy.HiddenSizes, _config.Policy.Deterministic, source);
        policy.Stored = stored.ToArray();
        return policy;
    }

    private string? Install(ControlPolicy next)
    {
        if (_exchange is null || _observations is null) return "the control loop is not running";
        lock (_gate)
        {
            var running = _installed!;
            float[] observations = _observations.Copy(out int count);
            double kl = running.MeanKl(next, observations, count);
            // The zero policy has no distribution to compare with: the first real policy is judged by the other checks.
            if (running.HasNetwork && !(kl <= _config.Policy.MaxKl))
                return $"{next.Source}: mean KL {kl:G3} from the running policy on {count} recent observations is above the bound {_config.Policy.MaxKl:G3} (policy.maxKl)";
            _exchange.Publish(next);
            _installed = next;
            return null;
        }
    }

    private static string OneLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
