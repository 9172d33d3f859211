using RobotPG.Controller.Learning;

namespace RobotPG.Controller.Tests.Learning;

/// <summary>An observer that throws on every episode: a fault on the learner thread, outside an update.</summary>
internal sealed class ThrowingObserver(LearningEventQueue inner) : ILearningObserver
{
    public void OnUpdate(in LearnerUpdate update) => inner.OnUpdate(update);
    public void OnRollback(in LearnerRollback rollback) => inner.OnRollback(rollback);
    public void OnEpisode(long episode, double episodeReturn, int length) => throw new IOException("injected observer fault");
    public void OnWarning(string message) => inner.OnWarning(message);
}
