using RobotPG.Learning.Checkpoints;
using RobotPG.Learning.Networks;
using RobotPG.Messaging.Security;
using RobotPG.Sim.Cli;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

public class KeyAndPolicySignTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void GeneratedKeySignsACheckpointThatTheRobotsVerifierAcceptsForThatRobotOnly()
    {
        string dir = CliTestRun.TempDirectory();
        try
        {
            var (exit, stdout, _) = CliTestRun.Invoke(KeyCommand.Create(), "generate", "--out", Path.Combine(dir, "keys"));
            Assert.Equal(0, exit);
            string priv = Path.Combine(dir, "keys", OperatorKey.PrivateKeyFileName);
            string pub = Path.Combine(dir, "keys", OperatorKey.PublicKeyFileName);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(priv));
            Assert.DoesNotContain("PRIVATE", stdout);

            string ckpt = Path.Combine(dir, "agent.ckpt");
            CheckpointFile.Save(ckpt, new TrainingState { Policy = new GaussianPolicy(4, 1, [8], 1, 3), Tag = "t" });
            (exit, _, _) = CliTestRun.Invoke(PolicyCommand.Create(), "sign", ckpt, "--key", priv, "--robot", "bb-1");
            Assert.Equal(0, exit);

            byte[] signed = File.ReadAllBytes(ckpt + ".signed");
            var message = SignedMessage.TryParseEnvelope(signed, out var verdict, out _);
            Assert.Equal(SignatureVerdict.Accepted, verdict);
            Assert.Equal(File.ReadAllBytes(ckpt), message!.Body.ToArray());
            using var verifier = SignatureVerifier.FromFiles([pub]);
            Assert.Equal(SignatureVerdict.Accepted, verifier.Verify(message, "bb-1", SignedMessage.PolicyPurpose, Freshness.Required, out _));
            Assert.Equal(SignatureVerdict.WrongAudience, verifier.Verify(message, "bb-2", SignedMessage.PolicyPurpose, Freshness.NotChecked, out _));

            // Bad input: one line, exit 2; a key is never overwritten; garbage is never signed.
            var (e1, _, err1) = CliTestRun.Invoke(KeyCommand.Create(), "generate", "--out", Path.Combine(dir, "keys"));
            Assert.Equal(2, e1);
            Assert.Contains("not overwriting", err1);
            File.WriteAllText(Path.Combine(dir, "junk.ckpt"), "junk");
            var (e2, _, err2) = CliTestRun.Invoke(PolicyCommand.Create(), "sign", Path.Combine(dir, "junk.ckpt"), "--key", priv, "--robot", "bb-1");
            Assert.Equal(2, e2);
            Assert.Single(err2.Trim().Split('\n'));
            var (e3, _, err3) = CliTestRun.Invoke(PolicyCommand.Create(), "sign", ckpt, "--key", priv);
            Assert.Equal(2, e3);
            Assert.Contains("--robot", err3);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
