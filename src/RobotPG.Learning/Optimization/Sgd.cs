using RobotPG.Numerics;

namespace RobotPG.Learning.Optimization;

/// <summary>Plain gradient descent θ ← θ − lr·g (the vanilla estimators of the notes).</summary>
public sealed class Sgd
{
    public Sgd(float learningRate)
    {
        if (!(learningRate >= 0f)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "must be ≥ 0");
        LearningRate = learningRate;
    }

    public float LearningRate { get; set; }

    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients) => Kernels.Axpy(-LearningRate, gradients, parameters);
}
