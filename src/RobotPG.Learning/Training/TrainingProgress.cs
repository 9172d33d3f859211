using RobotPG.Learning.Algorithms;

namespace RobotPG.Learning.Training;

/// <summary>State of a training run after one collect → update iteration.</summary>
/// <param name="Steps">Environment steps so far (all environments).</param>
/// <param name="TotalSteps">Steps the run will take.</param>
/// <param name="Episodes">Episodes finished so far.</param>
/// <param name="Iteration">1-based iteration (rollout + update) number.</param>
/// <param name="Iterations">Iterations the run will take.</param>
/// <param name="MeanReturn">Mean undiscounted, unscaled return of the last 10 finished episodes; NaN before the first.</param>
/// <param name="Diagnostics">The algorithm's report of this update.</param>
/// <param name="UpdateMilliseconds">Wall time of the update phase alone.</param>
/// <param name="StepsPerSecond">Environment steps per wall second since the start (collection and updates).</param>
public readonly record struct TrainingProgress(
    long Steps,
    long TotalSteps,
    int Episodes,
    int Iteration,
    int Iterations,
    double MeanReturn,
    UpdateDiagnostics Diagnostics,
    double UpdateMilliseconds,
    double StepsPerSecond);
