using Xunit;

namespace RobotPG.Learning.Tests.Estimators;

/// <summary>Bad arguments: the exact exception type and the words of its one-line reason.</summary>
internal static class Rejects
{
    public static void With<TException>(Action call, string reason) where TException : Exception
    {
        TException e = Assert.Throws<TException>(call);
        Assert.Contains(reason, e.Message);
    }
}
