using RobotPG.Learning.Networks;
using RobotPG.Learning.Normalization;

namespace RobotPG.Controller.Control;

/// <summary>
/// KL(old ‖ new) of two control policies at one raw observation, each normalised by its own normaliser: the
/// term the KL-bound guards of broadcast, pushed and loaded policies average over the robot's observations.
/// </summary>
public static class PolicyKl
{
    /// <summary>The per-observation buffers, allocated once by the caller.</summary>
    public sealed class Scratch(int observationSize, int actionSize)
    {
        internal readonly float[] NormalizedOld = new float[observationSize], NormalizedNew = new float[observationSize];
        internal readonly float[] MeanOld = new float[actionSize], MeanNew = new float[actionSize];
    }

    public static double At(GaussianPolicy oldNetwork, RunningMeanStd? oldNormalizer, GaussianPolicy newNetwork, RunningMeanStd? newNormalizer,
        ReadOnlySpan<float> observation, Scratch scratch)
    {
        Normalize(oldNormalizer, observation, scratch.NormalizedOld);
        Normalize(newNormalizer, observation, scratch.NormalizedNew);
        oldNetwork.Mean(scratch.NormalizedOld, scratch.MeanOld);
        newNetwork.Mean(scratch.NormalizedNew, scratch.MeanNew);
        return DiagonalGaussian.Kl(scratch.MeanOld, oldNetwork.LogStd, scratch.MeanNew, newNetwork.LogStd);
    }

    private static void Normalize(RunningMeanStd? normalizer, ReadOnlySpan<float> raw, Span<float> normalized)
    {
        if (normalizer is null) raw.CopyTo(normalized);
        else normalizer.Normalize(raw, normalized);
    }
}
