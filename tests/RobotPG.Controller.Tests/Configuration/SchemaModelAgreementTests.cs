using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using RobotPG.Controller.Configuration;

namespace RobotPG.Controller.Tests.Configuration;

/// <summary>
/// The schema and the C# model describe the same file: every model property is in the schema with
/// a matching type, every schema property is in the model, required means required in both, and
/// every enum's JSON names are the schema's enum values.
/// </summary>
public sealed class SchemaModelAgreementTests
{
    private static readonly JsonElement Schema = JsonDocument.Parse(ConfigLoader.SchemaText).RootElement;

    private static JsonElement Resolve(JsonElement s)
    {
        while (s.TryGetProperty("$ref", out var r))
            s = Schema.GetProperty("$defs").GetProperty(r.GetString()!["#/$defs/".Length..]);
        return s;
    }

    private static string JsonName(PropertyInfo p) =>
        p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.CamelCase.ConvertName(p.Name);

    private static Type Underlying(Type t) => Nullable.GetUnderlyingType(t) ?? t;

    private static void Compare(Type model, JsonElement schema, string where, List<string> problems)
    {
        schema = Resolve(schema);
        var schemaProps = schema.GetProperty("properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var required = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()!).ToHashSet() : [];
        if (!schema.TryGetProperty("additionalProperties", out var ap) || ap.ValueKind != JsonValueKind.False)
            problems.Add($"{where}: schema object is not closed (additionalProperties: false)");

        var modelProps = model.GetProperties(BindingFlags.Public | BindingFlags.Instance).ToDictionary(JsonName);
        foreach (var (name, prop) in modelProps)
        {
            if (!schemaProps.TryGetValue(name, out var ps))
            {
                problems.Add($"{where}.{name}: in the model, not in the schema");
                continue;
            }
            bool modelRequired = prop.GetCustomAttribute<System.Runtime.CompilerServices.RequiredMemberAttribute>() is not null;
            if (modelRequired != required.Contains(name))
                problems.Add($"{where}.{name}: required in {(modelRequired ? "model" : "schema")} only");
            CompareType(Underlying(prop.PropertyType), Resolve(ps), $"{where}.{name}", problems);
        }
        foreach (var name in schemaProps.Keys)
        {
            if (!modelProps.ContainsKey(name))
                problems.Add($"{where}.{name}: in the schema, not in the model");
        }
    }

    private static void CompareType(Type t, JsonElement s, string where, List<string> problems)
    {
        string? type = s.TryGetProperty("type", out var ty) ? ty.GetString() : null;
        if (t.IsEnum)
        {
            var names = t.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()!.Name).OrderBy(x => x).ToArray();
            var values = s.GetProperty("enum").EnumerateArray().Select(v => v.GetString()!).OrderBy(x => x).ToArray();
            if (!names.SequenceEqual(values))
                problems.Add($"{where}: enum {string.Join(",", names)} vs schema {string.Join(",", values)}");
        }
        else if (t == typeof(int) || t == typeof(long) || t == typeof(ulong))
        {
            bool ok = type == "integer" || (s.TryGetProperty("enum", out var e) && e.EnumerateArray().All(v => v.ValueKind == JsonValueKind.Number));
            if (!ok)
                problems.Add($"{where}: integer in the model, {type} in the schema");
        }
        else if (t == typeof(double))
        {
            if (type != "number")
                problems.Add($"{where}: number in the model, {type} in the schema");
        }
        else if (t == typeof(string))
        {
            if (type != "string")
                problems.Add($"{where}: string in the model, {type} in the schema");
        }
        else if (t == typeof(bool))
        {
            if (type != "boolean")
                problems.Add($"{where}: boolean in the model, {type} in the schema");
        }
        else if (t.IsArray)
        {
            if (type != "array")
                problems.Add($"{where}: array in the model, {type} in the schema");
            else
                CompareType(t.GetElementType()!, Resolve(s.GetProperty("items")), where + "[]", problems);
        }
        else if (t.IsClass)
        {
            if (type != "object")
                problems.Add($"{where}: object in the model, {type} in the schema");
            else
                Compare(t, s, where, problems);
        }
        else
        {
            problems.Add($"{where}: model type {t} not covered by this test");
        }
    }

    [Fact]
    public void Schema_and_model_have_the_same_properties_types_and_required_sets()
    {
        var problems = new List<string>();
        Compare(typeof(RobotConfig), Schema, "$", problems);
        Assert.Empty(problems);
    }

    [Fact]
    public void Schema_declares_draft_2020_12_for_editors()
    {
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", Schema.GetProperty("$schema").GetString());
    }

    [Fact]
    public void Schema_outside_the_understood_subset_is_refused()
    {
        var e = Assert.Throws<InvalidDataException>(() => JsonSchemaSubset.Parse("""{"type":"object","properties":{"a":{"oneOf":[]}}}"""));
        Assert.Contains("oneOf", e.Message);
    }

    [Fact]
    public void Integer_with_zero_fraction_counts_as_integer_as_json_schema_says()
    {
        var schema = JsonSchemaSubset.Parse("""{"type":"integer","minimum":0}""");
        var errors = new List<ConfigError>();
        schema.Validate(JsonDocument.Parse("3.0").RootElement, errors);
        Assert.Empty(errors);
        schema.Validate(JsonDocument.Parse("3.5").RootElement, errors);
        Assert.Single(errors);
    }
}
