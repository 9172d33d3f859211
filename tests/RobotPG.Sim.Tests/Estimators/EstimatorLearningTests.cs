using System.Diagnostics;
using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Environments;
using RobotPG.Learning.Estimators;
using RobotPG.Learning.Networks;
using RobotPG.Learning.Training;
using RobotPG.Sim.Environments;
using Xunit;
using Xunit.Abstractions;

namespace RobotPG.Sim.Tests.Estimators;

/// <summary>
/// Learning tests for the note-algorithms (seeded, deterministic): each must raise the deterministic
/// evaluation return (mean of 10 episodes, fixed evaluation seed) to the stated threshold within the
/// stated step budget. Training stops as soon as the threshold is met (evaluated every few updates),
/// which keeps each test to seconds.
/// </summary>
[Trait("Category", "Slow")]
public class EstimatorLearningTests(ITestOutputHelper output)
{
    internal readonly record struct Outcome(bool Reached, long Steps, double Seconds, double EvalReturn, double MeanUpdateMs);

    internal static Outcome TrainUntil(IPolicyGradientAlgorithm algorithm, string env, ulong seed, long maxSteps, double threshold,
        int evaluateEvery, Action<IPolicyGradientAlgorithm, Trainer>? afterUpdate = null)
    {
        var environments = new IEnvironment[algorithm.Rollout.EnvironmentCount];
        for (int e = 0; e < environments.Length; e++) environments[e] = EnvironmentCatalog.Create(env, seed + (ulong)e);
        var trainer = new Trainer(algorithm, environments, maxSteps, seed);
        IEnvironment evaluation = EnvironmentCatalog.Create(env, 10_000);
        var clock = Stopwatch.StartNew();
        double eval = double.NegativeInfinity, updateMs = 0;
        while (!trainer.Finished)
        {
            TrainingProgress progress = trainer.RunIteration();
            updateMs += progress.UpdateMilliseconds;
            afterUpdate?.Invoke(algorithm, trainer);
            if (trainer.Iteration % evaluateEvery == 0 || trainer.Finished)
            {
                eval = PolicyEvaluation.Run(algorithm.Agent, evaluation, 10, 10_000);
                if (eval >= threshold) return new Outcome(true, trainer.Steps, clock.Elapsed.TotalSeconds, eval, updateMs / trainer.Iteration);
            }
        }
        return new Outcome(false, trainer.Steps, clock.Elapsed.TotalSeconds, eval, updateMs / trainer.Iteration);
    }

    private static IPolicyGradientAlgorithm Create(string algo, string env, ulong seed, Func<EstimatorHyperparameters, EstimatorHyperparameters>? change = null)
    {
        IEnvironment probe = EnvironmentCatalog.Create(env);
        EstimatorHyperparameters h = EstimatorPresets.For(algo, env)!;
        if (change is not null) h = change(h);
        return EstimatorAlgorithms.Create(algo, h, new AlgorithmContext(probe.ObservationSize, probe.ActionSize, env, seed));
    }

    private void AssertReaches(IPolicyGradientAlgorithm algorithm, string env, long maxSteps, double threshold, int evaluateEvery,
        Action<IPolicyGradientAlgorithm, Trainer>? afterUpdate = null)
    {
        Outcome o = TrainUntil(algorithm, env, 1, maxSteps, threshold, evaluateEvery, afterUpdate);
        output.WriteLine($"{algorithm.Name} on {env}: eval {o.EvalReturn:F1} after {o.Steps} steps, {o.Seconds:F1} s, {o.MeanUpdateMs:F1} ms/update");
        Assert.True(o.Reached, $"{algorithm.Name} on {env}: eval return {o.EvalReturn:F1} < {threshold} after {o.Steps} steps");
    }

    [Fact]
    public void ReinforceWithRewardToGoAndValueBaselineSolvesCartPole() =>
        AssertReaches(Create(EstimatorAlgorithms.Reinforce, "cartpole", 1, h => h with { Baseline = BaselineKind.StateValue }), "cartpole", 100_000, 475, 2);

    [Fact]
    public void ReinforceWithTimeDependentBaselineSolvesCartPole() =>
        AssertReaches(Create(EstimatorAlgorithms.Reinforce, "cartpole", 1), "cartpole", 100_000, 475, 2);

    [Fact]
    public void ReinforceWholeTrajectoryReturnWithOptimalBaselineImprovesCartPole() =>
        AssertReaches(Create(EstimatorAlgorithms.Reinforce, "cartpole", 1,
            h => h with { Weighting = ReturnWeightingKind.WholeTrajectoryReturn, Baseline = BaselineKind.OptimalConstantPerParameter }),
            "cartpole", 100_000, 200, 2);

    [Fact]
    public void VanillaPolicyGradientSolvesCartPole() => AssertReaches(Create(EstimatorAlgorithms.Vpg, "cartpole", 1), "cartpole", 100_000, 475, 2);

    [Fact]
    public void A2cSolvesCartPole() => AssertReaches(Create(EstimatorAlgorithms.A2c, "cartpole", 1), "cartpole", 150_000, 475, 25);

    [Fact]
    public void OffPolicyImportanceSampledGradientSolvesCartPole() =>
        AssertReaches(Create(EstimatorAlgorithms.OffPolicy, "cartpole", 1), "cartpole", 100_000, 475, 2);

    [Fact]
    public void PpoKlSolvesCartPole() => AssertReaches(Create(EstimatorAlgorithms.PpoKl, "cartpole", 1), "cartpole", 100_000, 475, 1);

    [Fact]
    // A learning smoke check (a random policy scores about -1200); the formula itself is pinned by the one-update
    // reference test. Since GAE and standardisation became the shared implementations the seed-1 run lands at -223.
    public void PpoKlReachesMinus250OnPendulum() => AssertReaches(Create(EstimatorAlgorithms.PpoKl, "pendulum", 1), "pendulum", 200_000, -250, 4);

    [Fact]
    public void NaturalPolicyGradientSolvesCartPole() => AssertReaches(Create(EstimatorAlgorithms.Npg, "cartpole", 1), "cartpole", 100_000, 475, 1);

    [Fact]
    public void TrpoSolvesCartPoleWithEveryAcceptedStepInsideTheTrustRegion()
    {
        IPolicyGradientAlgorithm trpo = Create(EstimatorAlgorithms.Trpo, "cartpole", 1);
        int accepted = 0;
        AssertReaches(trpo, "cartpole", 100_000, 475, 1, (algorithm, _) =>
        {
            var npg = (NaturalPolicyGradient)algorithm;
            if (!npg.LastLineSearch.Accepted) return;
            accepted++;
            Assert.True(npg.LastKl <= 0.01, $"accepted step with mean KL {npg.LastKl}");
        });
        Assert.True(accepted > 0);
    }

    [Fact]
    public void TrpoReachesMinus200OnPendulum()
    {
        IPolicyGradientAlgorithm trpo = Create(EstimatorAlgorithms.Trpo, "pendulum", 1);
        AssertReaches(trpo, "pendulum", 250_000, -200, 2, (algorithm, _) =>
        {
            var npg = (NaturalPolicyGradient)algorithm;
            if (npg.LastLineSearch.Accepted) Assert.True(npg.LastKl <= 0.01 + 1e-9, $"accepted step with mean KL {npg.LastKl}");
        });
    }
}
