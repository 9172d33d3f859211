using RobotPG.Learning.Estimators;
using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>The baselines of note 001 beyond the hand-checked batch: growth, reuse, degenerate scores, bad spans.</summary>
public class BaselineTests
{
    [Fact]
    public void TimeDependentSumsGrowOnlyPastTheirHorizonAndThenByDoubling()
    {
        var fits = new TimeDependentBaseline(2);
        float[] baseline = new float[4];
        fits.Compute([3, 2, 7, 4], [0, 1, 0, 1], baseline);
        Assert.Equal(2, fits.Horizon); // an episode of exactly the horizon fits
        Assert.Equal([5f, 3f, 5f, 3f], baseline);

        var grows = new TimeDependentBaseline(4);
        baseline = new float[6];
        grows.Compute([6, 5, 4, 3, 2, 1], [0, 1, 2, 3, 4, 5], baseline);
        Assert.Equal(8, grows.Horizon); // max(6, 2·4): doubling, so a slowly lengthening episode reallocates O(log H) times
        Assert.Equal([6f, 5f, 4f, 3f, 2f, 1f], baseline);
        // After growing, the sums of a shorter batch do not keep the longer batch's entries.
        baseline = new float[2];
        grows.Compute([10, 20], [0, 0], baseline);
        Assert.Equal([15f, 15f], baseline);
    }

    [Fact]
    public void OptimalBaselineAfterClearIsThatOfTheNewTrajectoriesAlone()
    {
        // Reinforce reuses one instance per update: every running sum must restart.
        var baseline = new OptimalConstantBaseline(2);
        baseline.Add([5f, -4f], 100);
        baseline.Add([1f, 9f], -50);
        baseline.Clear();
        Assert.Equal(0, baseline.Count);
        baseline.Add([-1.5f, -0.5f], 3);
        baseline.Add([1f, 3f], 7);
        // The hand-checked batch: b = (2.5·3 + 10·7)/12.5 = 6.2; b_j per parameter; ĝ_j = (Σ s_j R − b_j Σ s_j)/2.
        Assert.Equal(2, baseline.Count);
        Assert.Equal(6.2, baseline.Scalar(), 12);
        double[] perParameter = new double[2];
        baseline.PerParameter(perParameter);
        Assert.Equal((2.25 * 3 + 1 * 7) / 3.25, perParameter[0], 12);
        Assert.Equal((0.25 * 3 + 9 * 7) / 9.25, perParameter[1], 12);
        float[] g = new float[2];
        baseline.Gradient([1.0, 2.0], g);
        Assert.Equal((float)((-1.5 * 3 + 1 * 7 - 1.0 * (-1.5 + 1)) / 2), g[0]);
        Assert.Equal((float)((-0.5 * 3 + 3 * 7 - 2.0 * (-0.5 + 3)) / 2), g[1]);
    }

    [Fact]
    public void OptimalBaselineOfAParameterWithoutScoreIsZero()
    {
        // A parameter the batch never moved (score 0 on every trajectory): 0/0 in the formula, defined as 0.
        var baseline = new OptimalConstantBaseline(2);
        baseline.Add([0f, 2f], 5);
        baseline.Add([0f, -1f], 1);
        double[] perParameter = new double[2];
        baseline.PerParameter(perParameter);
        Assert.Equal([0.0, (4 * 5 + 1 * 1) / 5.0], perParameter);

        var silent = new OptimalConstantBaseline(2);
        silent.Add([0f, 0f], 5);
        Assert.Equal(0.0, silent.Scalar());
    }

    [Fact]
    public void RefusesEmptyBatchesAndSpansOfTheWrongLength()
    {
        Rejects.With<ArgumentException>(() => ConstantBaseline.MeanReturn([], []), "at least one step (got 0 weights, 0 flags)");
        Rejects.With<ArgumentException>(() => ConstantBaseline.MeanReturn([1f, 2f], [true]), "(got 2 weights, 1 flags)");

        Assert.Throws<ArgumentOutOfRangeException>(() => new TimeDependentBaseline(0));
        var time = new TimeDependentBaseline(2);
        Rejects.With<ArgumentException>(() => time.Compute(new float[2], new int[1], new float[2]), "one entry per step");
        Rejects.With<ArgumentException>(() => time.Compute(new float[2], new int[2], new float[1]), "one entry per step");
        Rejects.With<ArgumentOutOfRangeException>(() => time.Compute(new float[2], [0, -1], new float[2]), "episode steps count from 0");

        Rejects.With<ArgumentException>(() => StateValueBaseline.Subtract(new float[3], new float[2]), "need one value per step (3), got 2");

        Assert.Throws<ArgumentOutOfRangeException>(() => new OptimalConstantBaseline(0));
        var optimal = new OptimalConstantBaseline(2);
        Rejects.With<ArgumentException>(() => optimal.Add(new float[3], 1), "score needs 2 entries, got 3");
        Rejects.With<ArgumentException>(() => optimal.PerParameter(new double[1]), "baseline needs 2 entries, got 1");
        Rejects.With<InvalidOperationException>(() => optimal.Gradient(new double[2], new float[2]), "no trajectory added");
        optimal.Add([1f, 1f], 1);
        Rejects.With<ArgumentException>(() => optimal.Gradient(new double[2], new float[3]), "need 2 entries, got 3 and 2");
        Rejects.With<ArgumentException>(() => optimal.Gradient(new double[3], new float[2]), "need 2 entries, got 2 and 3");
    }
}
