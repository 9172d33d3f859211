using System.Buffers.Binary;
using System.IO.Hashing;
using RobotPG.Messaging;
using Xunit;

namespace RobotPG.Messaging.Tests;

public class RolloutBatchTests
{
    private static RolloutBatch Sample(int count = 3, bool next = true)
    {
        var b = new RolloutBatch(2, 1, 8) { Sequence = 42, PolicyVersion = 7 };
        for (int i = 0; i < count; i++)
            b.TryAdd([i + 0.5f, -i], [0.25f * i], -1.5f - i, 0.1f * i, terminated: i == 1, truncated: i == 2);
        b.SetNextObservation(next ? [9f, 8f] : ReadOnlySpan<float>.Empty);
        return b;
    }

    private static byte[] Encode(RolloutBatch b)
    {
        var bytes = new byte[b.EncodedLengthNow];
        Assert.Equal(bytes.Length, b.Encode(bytes));
        return bytes;
    }

    [Fact]
    public void Round_trip_keeps_every_field_and_the_layout_is_pinned()
    {
        var bytes = Encode(Sample());
        // Header fields at their documented offsets (magic "RB", v1, length, sequence, version, sizes, count).
        Assert.Equal(0x4252, BinaryPrimitives.ReadUInt16LittleEndian(bytes));
        Assert.Equal(1, bytes[2]);
        Assert.Equal((uint)bytes.Length, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(42UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(7UL, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(28)));
        Assert.Equal(32 + 3 * (4 * 5 + 1) + 1 + 8 + 4, bytes.Length);
        // Second transition: obs (1.5, −1), action 0.25, log-prob −2.5, reward 0.1, terminated.
        int t1 = 32 + 21;
        Assert.Equal(1.5f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(t1)));
        Assert.Equal(-2.5f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(t1 + 12)));
        Assert.Equal(1, bytes[t1 + 20]);

        var d = new RolloutBatch(2, 1, 8);
        Assert.Equal(FrameStatus.Ok, d.TryDecode(bytes));
        Assert.Equal(3, d.Count);
        Assert.Equal(42UL, d.Sequence);
        Assert.Equal(7UL, d.PolicyVersion);
        Assert.Equal([2.5f, -2f], d.Observation(2).ToArray());
        Assert.Equal(0.5f, d.Action(2)[0]);
        Assert.Equal(-3.5f, d.LogProb(2));
        Assert.Equal(0.2f, d.Reward(2));
        Assert.True(d.Terminated(1));
        Assert.False(d.Truncated(1));
        Assert.True(d.Truncated(2));
        Assert.True(d.HasNextObservation);
        Assert.Equal([9f, 8f], d.NextObservation.ToArray());
        Assert.Equal(bytes, Encode(d));
    }

    [Fact]
    public void Malformed_batches_are_refused_with_their_reason_and_leave_the_batch_empty()
    {
        var good = Encode(Sample());
        var d = new RolloutBatch(2, 1, 8);
        Assert.Equal(FrameStatus.TooShort, d.TryDecode(good.AsSpan(0, 20)));
        Assert.Equal(FrameStatus.LengthMismatch, d.TryDecode(good.AsSpan(0, good.Length - 1)));

        var flipped = (byte[])good.Clone();
        flipped[40] ^= 0x10;
        Assert.Equal(FrameStatus.BadChecksum, d.TryDecode(flipped));

        var magic = (byte[])good.Clone();
        magic[0] = 0;
        Assert.Equal(FrameStatus.BadMagic, d.TryDecode(magic));

        Assert.Equal(FrameStatus.UnsupportedVersion, d.TryDecode(WithCrc(good, b => b[2] = 2)));
        Assert.Equal(FrameStatus.BadFlags, d.TryDecode(WithCrc(good, b => b[3] = 1)));
        // A count that disagrees with the bytes, more than fit, another shape.
        Assert.Equal(FrameStatus.LengthMismatch, d.TryDecode(WithCrc(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), 2))));
        Assert.Equal(FrameStatus.BadContent, d.TryDecode(WithCrc(good, b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(28), 9))));
        Assert.Equal(FrameStatus.BadContent, new RolloutBatch(3, 1, 8).TryDecode(good));
        // A NaN reward or an unknown transition flag, correctly checksummed, is still refused.
        Assert.Equal(FrameStatus.BadContent, d.TryDecode(WithCrc(good, b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(32 + 16), float.NaN))));
        Assert.Equal(FrameStatus.BadContent, d.TryDecode(WithCrc(good, b => b[32 + 20] = 3)));
        Assert.Equal(0, d.Count);
        Assert.Equal(FrameStatus.Ok, d.TryDecode(good));
    }

    [Fact]
    public void A_full_batch_refuses_more_transitions()
    {
        var b = new RolloutBatch(1, 1, 2);
        Assert.True(b.TryAdd([1f], [1f], 0, 0, false, false));
        Assert.True(b.TryAdd([1f], [1f], 0, 0, false, false));
        Assert.False(b.TryAdd([1f], [1f], 0, 0, false, false));
        Assert.Equal(2, b.Count);
    }

    [Fact]
    public void Fleet_topics_and_shared_filter_match_robot_rollouts()
    {
        Assert.Equal("robotpg/bot-1/rollout", new Topics("bot-1").Rollout);
        Assert.Equal("robotpg/fleet/lab/policy", Topics.FleetPolicy("lab"));
        string shared = Topics.SharedRolloutFilter();
        Assert.Equal("$share/learners/robotpg/+/rollout", shared);
        Assert.True(Topics.Matches(Topics.WithoutShare(shared), "robotpg/bot-1/rollout"));
        Assert.False(Topics.Matches(Topics.WithoutShare(shared), "robotpg/bot-1/telemetry/loop"));
        Assert.Throws<ArgumentException>(() => Topics.FleetPolicy("a/b"));
    }

    private static byte[] WithCrc(byte[] good, Action<byte[]> change)
    {
        var b = (byte[])good.Clone();
        change(b);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(b.Length - 4), Crc32.HashToUInt32(b.AsSpan(0, b.Length - 4)));
        return b;
    }
}
