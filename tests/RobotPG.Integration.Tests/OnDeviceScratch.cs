using System.Diagnostics;
using RobotPG.Sim.Demo;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Integration.Tests;

public sealed class OnDeviceScratch(ITestOutputHelper log)
{
    [Theory]
    [InlineData("ppo", 1024, 200_000)]
    [InlineData("trpo", 1024, 200_000)]
    public void Scratch(string algorithm, int batch, long steps)
    {
        string work = Path.Combine(Path.GetTempPath(), "robotpg-scratch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        var config = OnDeviceSetup.Parse(OnDeviceSetup.ConfigJson(algorithm, work, batchSteps: batch), work);
        log.WriteLine($"cfg maxKl {config.Learning!.MaxKl} batch {config.Learning.BatchSteps} margin {config.Learning.ReturnDropMargin} cke {config.Learning.CheckpointEveryUpdates} up {config.Learning.ResetUprightDeg}");
        using var run = new InProcessTraining(config, OnDeviceSetup.Physics(), 7, false, work, TextWriter.Null);
        var sw = Stopwatch.StartNew();
        run.Run(steps, r =>
        {
            log.WriteLine($"{sw.Elapsed.TotalSeconds:F1}s steps {r.Steps} upd {r.Learner.Updates} rb {r.Learner.Rollbacks} eps {r.Learner.Episodes} ret {r.Learner.MeanReturn:F1} len {r.Learner.MeanEpisodeLength:F0}");
            return r.Learner.MeanEpisodeLength >= 499;
        });
        log.WriteLine($"done {run.Steps} steps in {sw.Elapsed.TotalSeconds:F1}s");
    }
}
