using System.Globalization;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Training;
using RobotPG.Sim.Cli;
using RobotPG.Sim.Environments;
using Xunit;

namespace RobotPG.Sim.Tests.Cli;

/// <summary>
/// <c>--return-weighting</c>, <c>--discount-weighting</c> and <c>--baseline</c> reach REINFORCE/VPG: one
/// update through the verb gives exactly the parameters of the algorithm built directly with the
/// named setting, and other parameters than the preset's (so the option changed the gradient).
/// </summary>
public class ReinforceOptionsTests
{
    private const string Env = "cartpole";
    private const ulong Seed = 5;
    private const long Steps = 2048; // one update of the cart-pole preset (4 environments × 512 steps)

    private static float[] TrainThroughVerb(string algo, params string[] extra)
    {
        string dir = CliTestRun.TempDirectory();
        var (exit, _, stderr) = CliTestRun.Invoke(TrainCommand.Create(),
            ["--env", Env, "--algo", algo, "--steps", Steps.ToString(CultureInfo.InvariantCulture),
             "--seed", Seed.ToString(CultureInfo.InvariantCulture), "--out", dir, .. extra]);
        Assert.True(exit == 0, stderr);
        return ActorCritic.Load(Path.Combine(dir, TrainCommand.CheckpointFileName)).Policy.Parameters.ToArray();
    }

    private static float[] TrainDirectly(string algo, EstimatorHyperparameters h)
    {
        var algorithm = EstimatorAlgorithms.Create(algo, h, new AlgorithmContext(4, 1, Env, Seed));
        var envs = new IEnvironment[algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < envs.Length; e++) envs[e] = EnvironmentCatalog.Create(Env, Seed + (ulong)e);
        var trainer = new Trainer(algorithm, envs, Steps, Seed);
        while (!trainer.Finished) trainer.RunIteration();
        return algorithm.Agent.Policy.Parameters.ToArray();
    }

    public static TheoryData<string, string[], Func<EstimatorHyperparameters, EstimatorHyperparameters>> Cases() => new()
    {
        { "reinforce", ["--return-weighting", "whole"], h => h with { Weighting = ReturnWeightingKind.WholeTrajectoryReturn } },
        { "reinforce", ["--discount-weighting"], h => h with { DiscountFromTrajectoryStart = true } },
        { "reinforce", ["--baseline", "none"], h => h with { Baseline = BaselineKind.None } },
        { "reinforce", ["--baseline", "mean"], h => h with { Baseline = BaselineKind.MeanReturn } },
        { "reinforce", ["--baseline", "optimal-scalar"], h => h with { Baseline = BaselineKind.OptimalConstantScalar } },
        { "reinforce", ["--baseline", "optimal-per-parameter"], h => h with { Baseline = BaselineKind.OptimalConstantPerParameter } },
        { "reinforce", ["--baseline", "value"], h => h with { Baseline = BaselineKind.StateValue } },
        { "reinforce", ["--return-weighting", "whole", "--baseline", "mean"],
            h => h with { Weighting = ReturnWeightingKind.WholeTrajectoryReturn, Baseline = BaselineKind.MeanReturn } },
        { "vpg", ["--baseline", "time", "--discount-weighting"], h => h with { Baseline = BaselineKind.TimeDependent, DiscountFromTrajectoryStart = true } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void OptionChangesTheUpdateAsTheDirectSettingDoes(string algo, string[] options, Func<EstimatorHyperparameters, EstimatorHyperparameters> setting)
    {
        EstimatorHyperparameters preset = EstimatorPresets.For(algo, Env)!;
        float[] viaVerb = TrainThroughVerb(algo, options);
        Assert.Equal(TrainDirectly(algo, setting(preset)), viaVerb);
        Assert.NotEqual(TrainThroughVerb(algo), viaVerb);
    }

    [Fact]
    public void OptimalScalarAndPerParameterBaselinesGiveDifferentSteps() =>
        Assert.NotEqual(TrainThroughVerb("reinforce", "--baseline", "optimal-scalar"), TrainThroughVerb("reinforce", "--baseline", "optimal-per-parameter"));

    [Fact]
    public void HelpNamesEveryOptionAndValue()
    {
        var (exit, stdout, _) = CliTestRun.Invoke(TrainCommand.Create(), "--help");
        Assert.Equal(0, exit);
        foreach (string text in (string[])["--return-weighting", "reward-to-go", "--discount-weighting", "--baseline", "optimal-scalar",
            "optimal-per-parameter", "--delta", "--perturbations", "--step-size", "fd", "regression", "point-mass"])
            Assert.Contains(text, stdout);
    }
}
