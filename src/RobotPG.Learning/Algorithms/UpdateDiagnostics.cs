namespace RobotPG.Learning.Algorithms;

/// <summary>
/// What one policy update reports. Terms an algorithm does not have are NaN (REINFORCE has no
/// clip fraction, a critic-free method no value loss).
/// </summary>
/// <param name="PolicyLoss">Surrogate loss of the last minibatch (CleanRL logs the last one).</param>
/// <param name="ValueLoss">Value loss of the last minibatch.</param>
/// <param name="Entropy">Mean policy entropy of the last minibatch.</param>
/// <param name="ApproxKl">KL(old ‖ new) estimated as mean((r − 1) − log r) on the last minibatch.</param>
/// <param name="ClipFraction">Fraction of samples with |r − 1| &gt; ε, over every minibatch of the update.</param>
/// <param name="ExplainedVariance">1 − Var(returns − values) / Var(returns) of the rollout's value predictions.</param>
/// <param name="LearningRate">Learning rate used by this update (after annealing).</param>
/// <param name="Epochs">Epochs completed (fewer than configured after a target-KL stop).</param>
public readonly record struct UpdateDiagnostics(
    float PolicyLoss,
    float ValueLoss,
    float Entropy,
    float ApproxKl,
    float ClipFraction,
    float ExplainedVariance,
    float LearningRate,
    int Epochs);
