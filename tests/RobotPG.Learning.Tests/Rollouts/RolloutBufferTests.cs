using RobotPG.Learning.Rollouts;
using Xunit;

namespace RobotPG.Learning.Tests.Rollouts;

public class RolloutBufferTests
{
    [Fact]
    public void SlotsAreStepMajorAndDisjoint()
    {
        var buffer = new RolloutBuffer(3, 2, 4, 2);
        Assert.Equal(6, buffer.Capacity);
        Assert.Equal(5, buffer.IndexOf(2, 1));
        for (int i = 0; i < buffer.Capacity; i++)
        {
            buffer.Observation(i).Fill(i);
            buffer.Action(i).Fill(-i);
        }
        for (int i = 0; i < buffer.Capacity; i++)
        {
            Assert.All(buffer.Observations.Slice(i * 4, 4).ToArray(), v => Assert.Equal(i, v));
            Assert.All(buffer.Actions.Slice(i * 2, 2).ToArray(), v => Assert.Equal(-i, v));
        }
    }

    [Fact]
    public void BootstrapValueIsKeptOnlyForTruncation()
    {
        var buffer = new RolloutBuffer(4, 1, 1, 1);
        buffer.Record(0, -1f, 0.5f, 1f, terminated: false, truncated: true, bootstrapValue: 3f);
        buffer.Record(1, -1f, 0.5f, 1f, terminated: true, truncated: false, bootstrapValue: 3f);
        buffer.Record(2, -1f, 0.5f, 1f, terminated: true, truncated: true, bootstrapValue: 3f);
        buffer.Record(3, -1f, 0.5f, 1f, terminated: false, truncated: false, bootstrapValue: 3f);
        Assert.Equal([3f, 0f, 0f, 0f], buffer.BootstrapValues.ToArray());
    }

    [Fact]
    public void IndexOutsideTheRolloutIsRefused()
    {
        var buffer = new RolloutBuffer(3, 2, 1, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.IndexOf(3, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.IndexOf(0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RolloutBuffer(0, 1, 1, 1));
    }
}
