using System.Runtime.CompilerServices;

namespace RobotPG.Controller.Tests;

/// <summary>Paths inside the source tree (builds may put binaries anywhere, see RPG_ARTIFACTS).</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string FirmwareConfig(string name) => Path.Combine(Root, "firmware-config", name);

    private static string FindRoot([CallerFilePath] string here = "")
    {
        var dir = new DirectoryInfo(Path.GetDirectoryName(here)!);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RobotPG.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("RobotPG.sln not found above " + here);
    }
}
