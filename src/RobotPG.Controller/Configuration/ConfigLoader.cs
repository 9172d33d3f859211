using System.Text.Json;

namespace RobotPG.Controller.Configuration;

/// <summary>The outcome of loading a config: the config, or the errors that stop start-up.</summary>
public sealed record ConfigLoadResult(string File, RobotConfig? Config, IReadOnlyList<ConfigError> Errors)
{
    public bool Ok => Config is not null && Errors.Count == 0;
}

/// <summary>
/// Loads a robot config in four gates, each stopping at its first failing gate: readable JSON,
/// the schema (robotpg.schema.json, carried inside the binary), strict source-generated
/// deserialization (unknown properties are errors), and the rules across fields
/// (<see cref="ConfigRules"/>). Touches no hardware.
/// </summary>
public static class ConfigLoader
{
    private static readonly Lazy<JsonSchemaSubset> SchemaInstance = new(() => JsonSchemaSubset.Parse(SchemaText));

    /// <summary>The JSON schema this binary validates against (robotpg.schema.json).</summary>
    public static string SchemaText
    {
        get
        {
            using var stream = typeof(ConfigLoader).Assembly.GetManifestResourceStream("robotpg.schema.json")
                ?? throw new InvalidOperationException("robotpg.schema.json is not embedded in this build");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    public static ConfigLoadResult Load(string file)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(file, "$", $"cannot read the file: {OneLine(e.Message)}");
        }
        return Parse(file, text, Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".");
    }

    /// <summary>Validates <paramref name="json"/> as if read from <paramref name="file"/>; relative paths resolve against <paramref name="baseDirectory"/>.</summary>
    public static ConfigLoadResult Parse(string file, string json, string baseDirectory)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            return Fail(file, "$", $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})");
        }

        using (document)
        {
            var errors = new List<ConfigError>();
            SchemaInstance.Value.Validate(document.RootElement, errors);
            if (errors.Count > 0)
                return new ConfigLoadResult(file, null, errors);

            RobotConfig? config;
            try
            {
                config = document.RootElement.Deserialize(RobotConfigJsonContext.Default.RobotConfig);
            }
            catch (JsonException e)
            {
                // The schema should have caught it; the serializer's path still names the field.
                return Fail(file, e.Path ?? "$", OneLine(e.Message));
            }
            if (config is null)
                return Fail(file, "$", "expected an object, got null");

            ConfigRules.Check(config, baseDirectory, errors);
            return new ConfigLoadResult(file, errors.Count == 0 ? config : null, errors);
        }
    }

    private static ConfigLoadResult Fail(string file, string path, string reason) =>
        new(file, null, [new ConfigError(path, reason)]);

    private static string OneLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
