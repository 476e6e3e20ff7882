using System.Text.Json;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>vib3's Jinja renders every template of Jinja/cases.json to exactly what Python's jinja2 renders for it, as
/// transformers sets jinja2 up for chat templates (Jinja/expected.json, written by Jinja/render_expected.py; rerun it
/// after changing the cases, where jinja2 is installed). A case jinja2 refuses, vib3 refuses too.</summary>
public sealed class JinjaAgreementTests
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Tokenization", "Jinja");

    private static readonly JsonElement Cases = Load("cases.json");

    private static readonly JsonElement Expected = Load("expected.json").GetProperty("expected");

    private static JsonElement Load(string file) => JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, file))).RootElement;

    public static TheoryData<string> Names() => new(Cases.EnumerateArray().Select(c => c.GetProperty("name").GetString()!));

    [Fact]
    public void Every_case_has_jinja2_s_rendering_and_no_rendering_lacks_a_case()
    {
        var names = Cases.EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Equal(names.Order(), Expected.EnumerateObject().Select(p => p.Name).Order());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Renders_what_jinja2_renders(string name)
    {
        var c = Cases.EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var template = c.GetProperty("template").GetString()!;
        var variables = c.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => JinjaTemplate.Value(Clr(p.Value)));
        var expected = Expected.GetProperty(name);
        if (expected.TryGetProperty("error", out var error))
        {
            var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template).Render(variables));
            Assert.False(string.IsNullOrEmpty(e.Message), $"jinja2: {error.GetString()}");
            return;
        }
        Assert.Equal(expected.GetProperty("text").GetString(), JinjaTemplate.Parse(template).Render(variables));
    }

    /// <summary>A JSON value as the CLR values <see cref="JinjaTemplate.Value"/> takes.</summary>
    private static object? Clr(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => v.EnumerateObject().ToDictionary(p => p.Name, p => Clr(p.Value)) as IReadOnlyDictionary<string, object?>,
        JsonValueKind.Array => v.EnumerateArray().Select(Clr).ToList(),
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number => v.TryGetInt64(out var n) ? (object)n : v.GetDouble(), // boxed apart: one type would make every number a double
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
