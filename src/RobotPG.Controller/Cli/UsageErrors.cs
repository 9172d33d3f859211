using System.CommandLine;
using System.CommandLine.Parsing;

namespace RobotPG.Controller.Cli;

/// <summary>
/// The one line a user sees for a command line the parser rejects, shared by <c>robotpg</c> and
/// <c>robotpg-sim</c>. System.CommandLine's own first error is often not the cause ("Required command
/// was not provided." for a misspelt verb) or names .NET types ("System.Nullable`1[System.Double]"),
/// so the cause is rebuilt from the parse: an unknown word first, then a value of the wrong kind, then
/// the parser's message.
/// </summary>
public static class UsageErrors
{
    public static string Describe(ParseResult parsed, string program)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        Command command = parsed.CommandResult.Command;
        string where = command.Parents.Any() ? $"{program} {CommandPath(parsed.CommandResult)}" : program;
        string help = $"(see {where} --help)";

        if (parsed.UnmatchedTokens.Count > 0)
        {
            string token = parsed.UnmatchedTokens[0];
            if (command.Subcommands.Count > 0 && !token.StartsWith('-'))
                return $"{where}: unknown command '{token}' (commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))}) {help}";
            return $"{where}: unknown option or argument '{token}' {help}";
        }

        foreach (ParseError error in parsed.Errors)
        {
            (string? name, Type? type, IReadOnlyList<Token>? tokens) = error.SymbolResult switch
            {
                OptionResult o => (o.Option.Name, o.Option.ValueType, o.Tokens),
                ArgumentResult { Parent: OptionResult o } a => (o.Option.Name, a.Argument.ValueType, a.Tokens),
                ArgumentResult a => ($"<{a.Argument.Name}>", a.Argument.ValueType, a.Tokens),
                _ => (null, null, null),
            };
            if (name is null || type is null || tokens is null) continue;
            foreach (Token token in tokens)
            {
                if (ExpectedKind(type) is { } kind && !Parses(type, token.Value))
                    return $"{where}: {name} must be {kind} (got '{token.Value}') {help}";
            }
        }

        if (command.Subcommands.Count > 0 && command.Action is null)
            return $"{where}: no command given (commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))}) {help}";

        string message = parsed.Errors.Count > 0 ? parsed.Errors[0].Message.TrimEnd('.') : "cannot parse the command line";
        return $"{where}: {message} {help}";
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c && c.Parent is not null; r = c.Parent)
            names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    private static bool Parses(Type type, string text)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) type = type.GetElementType()!;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (type == typeof(double) || type == typeof(float)) return double.TryParse(text, System.Globalization.NumberStyles.Float, inv, out _);
        if (type == typeof(bool)) return bool.TryParse(text, out _);
        return long.TryParse(text, System.Globalization.NumberStyles.Integer, inv, out _) || ulong.TryParse(text, System.Globalization.NumberStyles.Integer, inv, out _);
    }

    /// <summary>What a value of <paramref name="type"/> looks like to a user, or null for strings (nothing to convert).</summary>
    private static string? ExpectedKind(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsArray) type = type.GetElementType()!;
        if (type == typeof(double) || type == typeof(float)) return "a number";
        if (type == typeof(int) || type == typeof(long) || type == typeof(uint) || type == typeof(ulong) || type == typeof(short))
            return "a whole number";
        if (type == typeof(bool)) return "true or false";
        return null;
    }
}
