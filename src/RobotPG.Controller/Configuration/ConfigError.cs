namespace RobotPG.Controller.Configuration;

/// <summary>One problem in a config file: the JSON path of the field and why it is wrong.</summary>
public readonly record struct ConfigError(string Path, string Reason)
{
    /// <summary>The one-line form every tool prints: <c>file: $.json.path: reason</c>.</summary>
    public string Format(string file) => $"{file}: {Path}: {Reason}";
}

/// <summary>Builds JSON paths in the <c>$.a.b[0].c</c> notation used in every config error.</summary>
public static class JsonPath
{
    public static string Property(string parent, string name)
    {
        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                return $"{parent}['{name}']";
        }
        return $"{parent}.{name}";
    }

    public static string Index(string parent, int index) => $"{parent}[{index}]";
}
