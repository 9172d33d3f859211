namespace RobotPG.Messaging.Security;

/// <summary>
/// MQTT username and password from a file of their own, outside the config, so configs can be shared
/// and committed. Format: <c>username=NAME</c> and <c>password=SECRET</c> lines; blank lines and
/// <c>#</c> comments are ignored. The file must not be readable by group or others (chmod 600).
/// Errors name the file and the line, never the secret.
/// </summary>
public static class MqttCredentials
{
    public static (string UserName, string Password) Load(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode;
            try
            {
                mode = File.GetUnixFileMode(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidDataException($"{path}: cannot read credentials: {e.Message}", e);
            }
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
                throw new InvalidDataException($"{path}: credentials file is readable by group or others (chmod 600 it)");
        }
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot read credentials: {e.Message}", e);
        }
        string? user = null, password = null;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int eq = line.IndexOf('=');
            string key = eq < 0 ? line : line[..eq].Trim();
            string value = eq < 0 ? "" : line[(eq + 1)..].Trim();
            switch (key)
            {
                case "username": user = value; break;
                case "password": password = value; break;
                default: throw new InvalidDataException($"{path}:{i + 1}: expected username=... or password=... (the line is not shown: it may hold a secret)");
            }
        }
        if (string.IsNullOrEmpty(user)) throw new InvalidDataException($"{path}: no username= line");
        if (password is null) throw new InvalidDataException($"{path}: no password= line");
        return (user, password);
    }
}
