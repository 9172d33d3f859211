namespace RobotPG.Learning.Rollouts;

/// <summary>The minibatch gather of PPO, PPO-KL and the critic fit: rows picked by a shuffled index list.</summary>
public static class Minibatch
{
    /// <summary>Row k of <paramref name="destination"/> ← row indices[k] of <paramref name="source"/>, rows of <paramref name="width"/> floats.</summary>
    public static void Gather(ReadOnlySpan<int> indices, ReadOnlySpan<float> source, int width, Span<float> destination)
    {
        if (destination.Length < indices.Length * width)
            throw new ArgumentException($"destination holds fewer than {indices.Length} rows of {width}", nameof(destination));
        if (width == 1)
        {
            for (int k = 0; k < indices.Length; k++) destination[k] = source[indices[k]];
            return;
        }
        for (int k = 0; k < indices.Length; k++)
            source.Slice(indices[k] * width, width).CopyTo(destination.Slice(k * width, width));
    }
}
