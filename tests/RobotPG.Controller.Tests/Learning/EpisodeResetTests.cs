using RobotPG.Controller.Configuration;
using RobotPG.Controller.Learning;
using RobotPG.Hardware;
using Xunit;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>The reset requests of a learning robot: one per ended episode, one more per <c>RetrySteps</c> of waiting, each taken once.</summary>
public sealed class EpisodeResetTests
{
    [Fact]
    public void Each_ended_episode_and_each_retry_period_of_waiting_is_one_reset_request_taken_once()
    {
        var reset = new UprightResetCondition(new ImuMounting { Forward = ImuAxis.PlusX, Up = ImuAxis.PlusZ }, 10, 0.5, holdSteps: 2, retrySteps: 3);
        var fallen = new SensorFrame(0) { AccelX = 9.8f, AccelZ = 0.5f }; // lying on its front
        Assert.False(reset.TryTakeResetRequest());

        reset.EpisodeEnded();
        Assert.True(reset.TryTakeResetRequest());
        Assert.False(reset.TryTakeResetRequest());

        // Still down: after 3 steps of waiting another request, after 6 a third (nobody took the second yet).
        for (int k = 1; k <= 2; k++) Assert.False(reset.ReadyForNextEpisode(fallen));
        Assert.False(reset.TryTakeResetRequest());
        for (int k = 3; k <= 6; k++) Assert.False(reset.ReadyForNextEpisode(fallen));
        Assert.True(reset.TryTakeResetRequest());
        Assert.True(reset.TryTakeResetRequest());
        Assert.False(reset.TryTakeResetRequest());

        // Upright and still for more than holdSteps: ready, and no request made meanwhile beyond the retry rule.
        var upright = new SensorFrame(0) { AccelZ = 9.8f };
        Assert.False(reset.ReadyForNextEpisode(upright)); // waited 7
        Assert.False(reset.ReadyForNextEpisode(upright)); // waited 8
        Assert.True(reset.ReadyForNextEpisode(upright));
        Assert.False(reset.TryTakeResetRequest());
        Assert.Equal(1, reset.Resets);
    }
}
