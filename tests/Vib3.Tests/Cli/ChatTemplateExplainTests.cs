using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>A chat template outside vib3's Jinja subset is replaced by the family's built-in format; the reason used
/// to be dropped. EXPLAIN GENERATE CHAT now says which template renders the messages and, for a fallback, why.</summary>
public sealed class ChatTemplateExplainTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public void Dispose() => _dir.Dispose();

    private const string Explain = "EXPLAIN GENERATE CHAT (('user', 'hi')) FROM MODEL m";

    /// <summary>Converts a small Mixtral whose tokenizer_config.json carries <paramref name="template"/> (none: null).</summary>
    private void ConvertWithTemplate(string? template)
    {
        var folder = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        if (template is not null)
        {
            var path = Path.Combine(folder, "tokenizer_config.json");
            var config = JsonNode.Parse(File.ReadAllText(path))!;
            config["chat_template"] = template;
            File.WriteAllText(path, config.ToJsonString());
        }
        var r = CliRun.Run(Data, "convert", folder, "--name", "m");
        Assert.True(r.ExitCode == 0, r.Error);
    }

    private string ExplainOutput()
    {
        var r = CliRun.Run(Data, "query", Explain, "--format", "csv");
        Assert.True(r.ExitCode == 0, r.Error);
        return r.Output;
    }

    [Fact]
    public void A_template_outside_the_subset_shows_the_built_in_format_and_why()
    {
        ConvertWithTemplate("{% include 'roles.jinja' %}{{ messages[0]['content'] }}");
        var output = ExplainOutput();
        Assert.Contains("chat template: built-in mixtral format (the model's template is outside vib3's Jinja subset: ", output);
        Assert.Contains("include", output);
    }

    [Fact]
    public void A_template_inside_the_subset_is_the_models_own()
    {
        ConvertWithTemplate("{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}");
        Assert.Contains("chat template: the model's own", ExplainOutput());
    }

    [Fact]
    public void No_template_is_the_built_in_format_and_says_so()
    {
        ConvertWithTemplate(null);
        Assert.Contains("chat template: built-in mixtral format (the model has none)", ExplainOutput());
    }

    [Fact]
    public void A_text_prompt_has_no_chat_template_line()
    {
        ConvertWithTemplate(null);
        var r = CliRun.Run(Data, "query", "EXPLAIN GENERATE 'hi' FROM MODEL m", "--format", "csv");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.DoesNotContain("chat template", r.Output);
    }
}
