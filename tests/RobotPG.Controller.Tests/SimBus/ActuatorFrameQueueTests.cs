using System.Buffers.Binary;
using System.Diagnostics;
using RobotPG.Controller.Simulation;

namespace RobotPG.Controller.Tests.SimBus;

/// <summary>
/// The hand-over of actuator frames in lockstep: the MQTT receive thread that delivered a tick takes the
/// control thread's answer itself when it comes in time, the publisher thread everything else; each frame
/// goes out once and in order.
/// </summary>
public sealed class ActuatorFrameQueueTests
{
    private static byte[] Frame(int n)
    {
        var bytes = new byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, n);
        return bytes;
    }

    [Fact]
    public void A_frame_sent_while_the_receive_thread_waits_is_handed_to_it_and_does_not_wake_the_publisher()
    {
        using var queue = new ActuatorFrameQueue();
        queue.ExpectAnswer();
        queue.Send(Frame(7));
        Assert.True(queue.WaitForAnswer(spinTicks: 0));
        var buffer = new byte[64];
        Assert.True(queue.TryDequeue(buffer, out int length));
        Assert.Equal(Frame(7), buffer[..length]);
        Assert.False(queue.TryDequeue(buffer, out _));
        Assert.False(queue.WaitForFrame(TimeSpan.Zero)); // no wake-up was left for the publisher thread
    }

    [Fact]
    public void When_no_answer_comes_in_time_the_receive_thread_lets_go_and_the_next_frame_wakes_the_publisher()
    {
        using var queue = new ActuatorFrameQueue();
        queue.ExpectAnswer();
        Assert.False(queue.WaitForAnswer(spinTicks: Stopwatch.Frequency / 10_000)); // 100 µs, nothing sent
        queue.Send(Frame(8));
        Assert.True(queue.WaitForFrame(TimeSpan.Zero));
        // A second wait without a new expectation does not claim frames either.
        queue.Send(Frame(9));
        Assert.False(queue.WaitForAnswer(spinTicks: 0));
        Assert.True(queue.WaitForFrame(TimeSpan.Zero));
    }

    [Fact]
    public void A_frame_queued_before_the_expectation_stays_with_the_publisher_and_the_next_one_goes_to_the_receive_thread()
    {
        using var queue = new ActuatorFrameQueue();
        queue.Send(Frame(1)); // e.g. a start-up write from another thread
        queue.ExpectAnswer();
        queue.Send(Frame(2));
        Assert.True(queue.WaitForAnswer(spinTicks: 0));
        // The receive thread drains in order (frame 1 first); the publisher was woken once, for frame 1 only.
        var buffer = new byte[64];
        Assert.True(queue.TryDequeue(buffer, out int length));
        Assert.Equal(Frame(1), buffer[..length]);
        Assert.True(queue.TryDequeue(buffer, out length));
        Assert.Equal(Frame(2), buffer[..length]);
        Assert.True(queue.WaitForFrame(TimeSpan.Zero));
        Assert.False(queue.WaitForFrame(TimeSpan.Zero));
    }

    /// <summary>
    /// Lockstep as it runs: a receive thread delivers tick k (expecting the answer, spinning a short or a zero
    /// time), the control thread answers it (sometimes with an extra frame first, like a read-back's write), a
    /// publisher thread drains what the receive thread did not take, and tick k + 1 comes only once the answer
    /// to k went out. Whoever publishes takes the same lock, as <c>SimRobotConnection</c> does.
    /// </summary>
    [Fact]
    public void Every_frame_goes_out_exactly_once_and_in_order_whichever_thread_publishes_it()
    {
        const int Ticks = 3000;
        using var queue = new ActuatorFrameQueue();
        var published = new List<int>();
        var gate = new object();
        long byReceiver = 0, byPublisher = 0;
        using var tick = new SemaphoreSlim(0);
        using var stop = new CancellationTokenSource();
        int sent = 0;

        void Drain(byte[] buffer, ref long count)
        {
            lock (gate)
            {
                while (queue.TryDequeue(buffer, out int length))
                {
                    published.Add(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(0, length)));
                    count++;
                }
            }
        }

        int Published()
        {
            lock (gate) return published.Count;
        }

        var control = new Thread(() =>
        {
            for (int k = 0; k < Ticks; k++)
            {
                tick.Wait();
                if (k % 7 == 0) queue.Send(Frame(sent++));
                queue.Send(Frame(sent++));
            }
        });
        var publisher = new Thread(() =>
        {
            var buffer = new byte[64];
            try
            {
                while (!stop.IsCancellationRequested)
                    if (queue.WaitForFrame(TimeSpan.FromMilliseconds(100), stop.Token))
                        Drain(buffer, ref byPublisher);
            }
            catch (OperationCanceledException)
            {
            }
        });
        control.Start();
        publisher.Start();

        var receiveBuffer = new byte[64];
        int expected = 0;
        for (int k = 0; k < Ticks; k++)
        {
            expected += k % 7 == 0 ? 2 : 1;
            queue.ExpectAnswer();
            tick.Release(); // the tick reaches the control thread
            // Every third tick the receive thread does not wait at all (the publisher thread must send it); every 30th
            // it waits as long as it takes (it sends it: on a loaded machine a 1 ms spin may never see the control
            // thread run); the others race the control thread with a 1 ms spin.
            long spin = k % 3 == 0 ? 0 : k % 30 == 1 ? Stopwatch.Frequency * 10 : Stopwatch.Frequency / 1000;
            if (queue.WaitForAnswer(spin)) Drain(receiveBuffer, ref byReceiver);
            Assert.True(SpinWait.SpinUntil(() => Published() >= expected, TimeSpan.FromSeconds(10)), $"tick {k}: {Published()} of {expected} frames out");
        }
        stop.Cancel();
        control.Join();
        publisher.Join();

        Assert.Equal(Enumerable.Range(0, expected), published);
        Assert.True(byReceiver > 0 && byPublisher > 0, $"receive thread {byReceiver}, publisher {byPublisher}");
    }
}
