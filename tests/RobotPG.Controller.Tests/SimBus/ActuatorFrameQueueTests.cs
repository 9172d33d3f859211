using System.Buffers.Binary;
using RobotPG.Controller.Simulation;

namespace RobotPG.Controller.Tests.SimBus;

/// <summary>The real-time hand-over of actuator frames from the control thread to the publisher thread.</summary>
public sealed class ActuatorFrameQueueTests
{
    private static byte[] Frame(int n)
    {
        var bytes = new byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, n);
        return bytes;
    }

    [Fact]
    public void Frames_come_out_once_in_the_order_sent_and_each_wakes_the_publisher()
    {
        using var queue = new ActuatorFrameQueue(capacity: 4);
        Assert.False(queue.WaitForFrame(TimeSpan.Zero));
        queue.Send(Frame(1));
        queue.Send(Frame(2));
        Assert.True(queue.WaitForFrame(TimeSpan.Zero));
        var buffer = new byte[64];
        Assert.True(queue.TryDequeue(buffer, out int length));
        Assert.Equal(Frame(1), buffer[..length]);
        Assert.True(queue.TryDequeue(buffer, out length));
        Assert.Equal(Frame(2), buffer[..length]);
        Assert.False(queue.TryDequeue(buffer, out _));
    }

    /// <summary>A stalled publisher must not make the control thread wait: the newest frame is dropped and counted.</summary>
    [Fact]
    public void A_full_queue_drops_the_newest_frame_and_keeps_the_older_ones()
    {
        using var queue = new ActuatorFrameQueue(capacity: 2);
        queue.Send(Frame(1));
        queue.Send(Frame(2));
        queue.Send(Frame(3)); // dropped (a wrap-around that overwrote slot 0 would lose frame 1 instead)
        Assert.Equal(1, queue.Dropped);
        var buffer = new byte[64];
        Assert.True(queue.TryDequeue(buffer, out int length));
        Assert.Equal(Frame(1), buffer[..length]);
        Assert.True(queue.TryDequeue(buffer, out length));
        Assert.Equal(Frame(2), buffer[..length]);
        queue.Send(Frame(4)); // room again
        Assert.True(queue.TryDequeue(buffer, out length));
        Assert.Equal(Frame(4), buffer[..length]);
    }
}
