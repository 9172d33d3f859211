using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RobotPG.Controller.Configuration;

/// <summary>
/// A validator for the part of JSON Schema draft 2020-12 that robotpg.schema.json uses: type,
/// properties, required, additionalProperties: false, enum, minimum/maximum, exclusiveMinimum/
/// exclusiveMaximum, minLength/maxLength, pattern, items, minItems/maxItems and local $ref into
/// $defs. A schema using any other validation keyword is refused when loaded, so the controller
/// never silently ignores a rule an editor enforces.
/// </summary>
public sealed class JsonSchemaSubset
{
    private static readonly HashSet<string> Understood =
    [
        "type", "properties", "required", "additionalProperties", "enum", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "items",
        "minItems", "maxItems", "$ref",
        // Annotations: no effect on validation.
        "$schema", "$id", "$defs", "title", "description", "default",
    ];

    private readonly JsonElement _root;
    // The loader's schema is one shared instance: configs may be validated on several threads at once.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> _patterns = new(StringComparer.Ordinal);

    private JsonSchemaSubset(JsonDocument schema)
    {
        _root = schema.RootElement;
        CheckKeywords(_root, "#");
    }

    /// <summary>Parses a schema; throws <see cref="InvalidDataException"/> naming the first keyword outside the subset.</summary>
    public static JsonSchemaSubset Parse(string schemaJson) => new(JsonDocument.Parse(schemaJson));

    public void Validate(JsonElement instance, List<ConfigError> errors) => Validate(_root, instance, "$", errors);

    private void Validate(JsonElement schema, JsonElement value, string path, List<ConfigError> errors)
    {
        if (schema.TryGetProperty("$ref", out var reference))
            Validate(Resolve(reference.GetString()!), value, path, errors);

        if (schema.TryGetProperty("type", out var type) && !HasType(value, type.GetString()!))
        {
            errors.Add(new ConfigError(path, $"expected {Article(type.GetString()!)}, got {Describe(value)}"));
            return;
        }

        if (schema.TryGetProperty("enum", out var allowed))
        {
            bool found = false;
            foreach (var candidate in allowed.EnumerateArray())
                found |= JsonElement.DeepEquals(candidate, value);
            if (!found)
            {
                errors.Add(new ConfigError(path, $"{Show(value)} is not one of {ListOf(allowed)}"));
                return;
            }
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                ValidateObject(schema, value, path, errors);
                break;
            case JsonValueKind.Array:
                ValidateArray(schema, value, path, errors);
                break;
            case JsonValueKind.String:
                ValidateString(schema, value.GetString()!, path, errors);
                break;
            case JsonValueKind.Number:
                ValidateNumber(schema, value.GetDouble(), path, errors);
                break;
        }
    }

    private void ValidateObject(JsonElement schema, JsonElement value, string path, List<ConfigError> errors)
    {
        schema.TryGetProperty("properties", out var props);
        bool closed = schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.False;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in value.EnumerateObject())
        {
            string childPath = JsonPath.Property(path, member.Name);
            if (!seen.Add(member.Name))
            {
                errors.Add(new ConfigError(childPath, "property appears twice"));
                continue;
            }
            if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(member.Name, out var childSchema))
                Validate(childSchema, member.Value, childPath, errors);
            else if (closed)
                errors.Add(new ConfigError(childPath, "unknown property"));
        }
        if (schema.TryGetProperty("required", out var required))
        {
            foreach (var name in required.EnumerateArray())
            {
                string n = name.GetString()!;
                if (!value.TryGetProperty(n, out _))
                    errors.Add(new ConfigError(JsonPath.Property(path, n), "required property is missing"));
            }
        }
    }

    private void ValidateArray(JsonElement schema, JsonElement value, string path, List<ConfigError> errors)
    {
        int length = value.GetArrayLength();
        if (schema.TryGetProperty("minItems", out var min) && length < min.GetInt32())
            errors.Add(new ConfigError(path, $"has {length} item(s), needs at least {min.GetInt32()}"));
        if (schema.TryGetProperty("maxItems", out var max) && length > max.GetInt32())
            errors.Add(new ConfigError(path, $"has {length} items, at most {max.GetInt32()} allowed"));
        if (schema.TryGetProperty("items", out var items))
        {
            int i = 0;
            foreach (var item in value.EnumerateArray())
                Validate(items, item, JsonPath.Index(path, i++), errors);
        }
    }

    private void ValidateString(JsonElement schema, string s, string path, List<ConfigError> errors)
    {
        if (schema.TryGetProperty("minLength", out var min) && s.Length < min.GetInt32())
            errors.Add(new ConfigError(path, s.Length == 0 ? "must not be empty" : $"is shorter than {min.GetInt32()} characters"));
        if (schema.TryGetProperty("maxLength", out var max) && s.Length > max.GetInt32())
            errors.Add(new ConfigError(path, $"is longer than {max.GetInt32()} characters"));
        if (schema.TryGetProperty("pattern", out var pattern) && s.Length > 0)
        {
            string p = pattern.GetString()!;
            var regex = _patterns.GetOrAdd(p, static p => new Regex(p, RegexOptions.CultureInvariant));
            if (!regex.IsMatch(s))
                // The schema's description says the form in words; a regular expression is the last resort.
                errors.Add(new ConfigError(path, schema.TryGetProperty("description", out var described) && described.GetString() is { Length: > 0 } words
                    ? $"\"{s}\" is not of the expected form: {words}"
                    : $"\"{s}\" does not match {p}"));
        }
    }

    private static void ValidateNumber(JsonElement schema, double x, string path, List<ConfigError> errors)
    {
        if (schema.TryGetProperty("minimum", out var min) && x < min.GetDouble())
            errors.Add(new ConfigError(path, $"{Num(x)} is below the minimum {Num(min.GetDouble())}"));
        if (schema.TryGetProperty("maximum", out var max) && x > max.GetDouble())
            errors.Add(new ConfigError(path, $"{Num(x)} is above the maximum {Num(max.GetDouble())}"));
        if (schema.TryGetProperty("exclusiveMinimum", out var emin) && x <= emin.GetDouble())
            errors.Add(new ConfigError(path, $"{Num(x)} must be greater than {Num(emin.GetDouble())}"));
        if (schema.TryGetProperty("exclusiveMaximum", out var emax) && x >= emax.GetDouble())
            errors.Add(new ConfigError(path, $"{Num(x)} must be less than {Num(emax.GetDouble())}"));
    }

    private static bool HasType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "number" => value.ValueKind == JsonValueKind.Number,
        // JSON Schema: an integer is any number with a zero fractional part (1.0 counts).
        "integer" => value.ValueKind == JsonValueKind.Number && IsWhole(value),
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => throw new InvalidDataException($"schema type \"{type}\" is not understood"),
    };

    private static bool IsWhole(JsonElement value)
    {
        if (value.TryGetInt64(out _) || value.TryGetUInt64(out _))
            return true;
        double d = value.GetDouble();
        return Math.Floor(d) == d && !double.IsInfinity(d);
    }

    private JsonElement Resolve(string pointer)
    {
        const string prefix = "#/$defs/";
        if (!pointer.StartsWith(prefix, StringComparison.Ordinal)
            || !_root.TryGetProperty("$defs", out var defs)
            || !defs.TryGetProperty(pointer[prefix.Length..], out var target))
            throw new InvalidDataException($"schema $ref \"{pointer}\" does not resolve to a $defs entry");
        return target;
    }

    private void CheckKeywords(JsonElement schema, string where)
    {
        if (schema.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"schema at {where} is not an object");
        foreach (var keyword in schema.EnumerateObject())
        {
            if (!Understood.Contains(keyword.Name))
                throw new InvalidDataException($"schema keyword \"{keyword.Name}\" at {where} is outside the subset robotpg validates");
            switch (keyword.Name)
            {
                case "properties":
                case "$defs":
                    foreach (var child in keyword.Value.EnumerateObject())
                        CheckKeywords(child.Value, $"{where}/{keyword.Name}/{child.Name}");
                    break;
                case "items":
                    CheckKeywords(keyword.Value, $"{where}/items");
                    break;
                case "$ref":
                    Resolve(keyword.Value.GetString()!);
                    break;
                case "additionalProperties" when keyword.Value.ValueKind != JsonValueKind.False:
                    throw new InvalidDataException($"schema at {where}: only additionalProperties: false is understood");
                case "type" when keyword.Value.ValueKind != JsonValueKind.String:
                    throw new InvalidDataException($"schema at {where}: type must be a single name");
            }
        }
    }

    private static string Article(string type) => type switch
    {
        "object" or "array" or "integer" => "an " + type,
        _ => "a " + type,
    };

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{value.GetString()}\"",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"{value.GetRawText()}",
        _ => "null",
    };

    private static string Show(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"\"{value.GetString()}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => value.GetRawText(),
    };

    private static string ListOf(JsonElement allowed)
    {
        var parts = new List<string>();
        foreach (var a in allowed.EnumerateArray())
            parts.Add(Show(a));
        return string.Join(", ", parts);
    }

    private static string Num(double x) => x.ToString("R", CultureInfo.InvariantCulture);
}
