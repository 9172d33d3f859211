using RobotPG.Learning.Algorithms;
using RobotPG.Learning.Training;
using Xunit;

namespace RobotPG.Learning.Tests.Training;

public class BestPolicyKeeperTests
{
    private static ActorCritic Agent(ulong seed) => new(3, 1, [8], [8], maxBatch: 1, seed);

    /// <summary>Sets every parameter and statistic of the agent to values derived from <paramref name="tag"/>.</summary>
    private static void Stamp(ActorCritic agent, float tag)
    {
        agent.Policy.Parameters.Fill(tag);
        agent.Value.Parameters.Fill(-tag);
        agent.ObservationStatistics!.Restore([tag, tag, tag], [tag + 1, tag + 1, tag + 1], 10 + tag);
    }

    private static void AssertHolds(ActorCritic agent, float tag)
    {
        Assert.All(agent.Policy.Parameters.ToArray(), p => Assert.Equal(tag, p));
        Assert.All(agent.Value.Parameters.ToArray(), p => Assert.Equal(-tag, p));
        Assert.Equal(new double[] { tag, tag, tag }, agent.ObservationStatistics!.Mean.ToArray());
        Assert.Equal(new double[] { tag + 1, tag + 1, tag + 1 }, agent.ObservationStatistics.Variance.ToArray());
        Assert.Equal(10 + tag, agent.ObservationStatistics.Count);
    }

    [Fact]
    public void KeepsTheParametersOfTheHighestReturnAndRestoresThemExactly()
    {
        var agent = Agent(1);
        var keeper = new BestPolicyKeeper(agent);
        Assert.False(keeper.RestoreInto(agent)); // nothing kept yet: the agent stays as it is

        // Offers of rising then falling returns, as a run that learns and then collapses.
        (float tag, double ret, long steps)[] offers = [(1, 20, 100), (2, 480, 200), (3, 500, 300), (4, 350, 400), (5, 500, 500), (6, double.NaN, 600)];
        bool[] kept = new bool[offers.Length];
        for (int i = 0; i < offers.Length; i++)
        {
            Stamp(agent, offers[i].tag);
            kept[i] = keeper.Offer(agent, offers[i].ret, offers[i].steps);
        }

        // A tie (500 again) keeps the earlier policy; NaN is never kept.
        Assert.Equal(new[] { true, true, true, false, false, false }, kept);
        Assert.Equal(500, keeper.BestReturn);
        Assert.Equal(300, keeper.BestSteps);
        AssertHolds(keeper.Best, 3);

        // The agent still holds the collapsed parameters until it is rolled back.
        AssertHolds(agent, 6);
        Assert.True(keeper.RestoreInto(agent));
        AssertHolds(agent, 3);
    }

    [Fact]
    public void TheSnapshotIsACopyNotAView()
    {
        var agent = Agent(2);
        var keeper = new BestPolicyKeeper(agent);
        Stamp(agent, 7);
        keeper.Offer(agent, 1, 1);
        Stamp(agent, 9); // training goes on after the offer
        AssertHolds(keeper.Best, 7);
    }

    [Fact]
    public void TheBestActsAsTheOfferedAgentDid()
    {
        var agent = Agent(3);
        var keeper = new BestPolicyKeeper(agent);
        agent.ObserveStatistics([1f, -2f, 0.5f]);
        agent.ObserveStatistics([3f, 0f, -0.5f]);
        keeper.Offer(agent, 0, 0);
        float[] obs = [2f, -1f, 0.25f], a = new float[1], b = new float[1];
        agent.ActDeterministic(obs, a);
        keeper.Best.ActDeterministic(obs, b);
        Assert.Equal(a[0], b[0]);
    }
}
