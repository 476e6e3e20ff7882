using System.Text.Json;
using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>vib3 perplexity as a user runs it on a converted model: the JSON it prints, a reference routing's KL and
/// agreement, and one clear line (with its SQLSTATE) for each bad input. Its arithmetic is
/// PerplexityEvaluationTests' (Vib3.Models.Tests).</summary>
public sealed class PerplexityCliTests : IDisposable
{
    private const string Text = "The quick brown fox jumps over the lazy dog. A stitch in time saves nine. Every cloud has a silver lining.";
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public PerplexityCliTests()
    {
        var source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var r = CliRun.Run(Data, "convert", source, "--name", "m");
        Assert.True(r.ExitCode == 0, r.Error);
    }

    public void Dispose() => _dir.Dispose();

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir.Path, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void It_prints_the_perplexity_of_the_text_as_json()
    {
        var r = CliRun.Run(Data, "perplexity", "--model", "m", "--file", File("t.txt", Text), "--context", "32", "--stride", "16",
            "--kl-against", "ROUTER");
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Output);
        var root = json.RootElement;
        Assert.Equal("m", root.GetProperty("model").GetString());
        Assert.StartsWith("ROUTER top-", root.GetProperty("routing").GetString());
        var tokens = root.GetProperty("tokens").GetInt64();
        // Every prediction of the text scored once: a window of 32, then one every 16 for the rest.
        Assert.InRange(tokens, 33, Text.Length);
        Assert.Equal((tokens - 32 + 15) / 16 + 1, root.GetProperty("windows").GetInt32());
        var nll = root.GetProperty("mean_nll").GetDouble();
        Assert.Equal(Math.Exp(nll), root.GetProperty("perplexity").GetDouble(), 1e-9);
        Assert.True(nll > 0);
        Assert.True(root.GetProperty("expert_bytes_per_token").GetDouble() > 0);
        // The same routing as its reference: the same logits, so no divergence and full agreement.
        Assert.Equal(0, root.GetProperty("kl").GetDouble());
        Assert.Equal(1, root.GetProperty("top1_agreement").GetDouble());
    }

    /// <summary>USING RETRIEVAL once the model has a page index: the routing that ran, fewer expert bytes than the
    /// router's, and a measurable departure from it.</summary>
    [Fact]
    public void A_retrieval_routing_is_scored_against_the_router()
    {
        var index = CliRun.Run(Data, "query", "CREATE INDEX ON MODEL m;");
        Assert.True(index.ExitCode == 0, index.Error);
        var text = File("t.txt", Text);
        var router = CliRun.Run(Data, "perplexity", "--model", "m", "--file", text, "--context", "32");
        var retrieval = CliRun.Run(Data, "perplexity", "--model", "m", "--file", text, "--context", "32", "--using", "RETRIEVAL k=1",
            "--kl-against", "ROUTER");
        Assert.True(retrieval.ExitCode == 0, retrieval.Error);
        using var r = JsonDocument.Parse(router.Output);
        using var q = JsonDocument.Parse(retrieval.Output);
        Assert.StartsWith("RETRIEVAL k=1 bundle pages per layer by page key", q.RootElement.GetProperty("routing").GetString());
        Assert.StartsWith("ROUTER top-", q.RootElement.GetProperty("kl_against_routing").GetString());
        Assert.Equal(r.RootElement.GetProperty("tokens").GetInt64(), q.RootElement.GetProperty("tokens").GetInt64());
        Assert.True(q.RootElement.GetProperty("expert_bytes_per_token").GetDouble() < r.RootElement.GetProperty("expert_bytes_per_token").GetDouble());
        Assert.True(q.RootElement.GetProperty("kl").GetDouble() > 0);
        Assert.InRange(q.RootElement.GetProperty("top1_agreement").GetDouble(), 0, 1);
    }

    /// <summary>--oracle: all of the router's pages is the router; half of them reads half the bytes and departs from it.</summary>
    [Fact]
    public void The_page_oracle_is_measured_through_the_command_line()
    {
        var text = File("t.txt", Text);
        JsonElement Run(params string[] extra)
        {
            var r = CliRun.Run(Data, ["perplexity", "--model", "m", "--file", text, "--context", "32", .. extra]);
            Assert.True(r.ExitCode == 0, r.Error);
            return JsonDocument.Parse(r.Output).RootElement;
        }
        var router = Run();
        var all = Run("--oracle", "1");
        var half = Run("--oracle", "0.5", "--kl-against", "ROUTER");
        Assert.Equal(router.GetProperty("mean_nll").GetDouble(), all.GetProperty("mean_nll").GetDouble());
        Assert.Contains("page oracle: the largest-contribution 0.5 of each token's pages", half.GetProperty("routing").GetString());
        Assert.Equal(router.GetProperty("expert_bytes_per_token").GetDouble() / 2, half.GetProperty("expert_bytes_per_token").GetDouble());
        Assert.True(half.GetProperty("kl").GetDouble() > 0);
    }

    [Fact]
    public void Bad_input_is_one_line_naming_it()
    {
        var text = File("t.txt", Text);
        Refused(SqlState.InvalidParameterValue, "is empty: there is nothing to score", "--model", "m", "--file", File("empty.txt", ""));
        Refused(SqlState.IoError, "--file ", "--model", "m", "--file", Path.Combine(_dir.Path, "missing.txt"));
        Refused(SqlState.InvalidParameterValue, "tokens, too short for a context of 16: it needs at least 17 (use a shorter context)",
            "--model", "m", "--file", File("short.txt", "a fox"), "--context", "16");
        Refused(SqlState.InvalidParameterValue, "a context of 100000 tokens exceeds ", "--model", "m", "--file", text, "--context", "100000");
        Refused(SqlState.InvalidParameterValue, "the stride must be between 1 and the context (16), not 17",
            "--model", "m", "--file", text, "--context", "16", "--stride", "17");
        Refused(SqlState.UndefinedObject, "nosuch", "--model", "nosuch", "--file", text);
        Refused(SqlState.SyntaxError, "--using 'ROUTE' is not a USING clause", "--model", "m", "--file", text, "--using", "ROUTE");
        Refused(SqlState.InvalidParameterValue, "--oracle keeps a share of the pages in (0, 1], not 0", "--model", "m", "--file", text, "--oracle", "0");
        Refused(SqlState.InvalidParameterValue, "--oracle-random needs --oracle SHARE", "--model", "m", "--file", text, "--oracle-random");
        Refused(SqlState.FeatureNotSupported, "run CREATE INDEX ON MODEL", "--model", "m", "--file", text, "--context", "16", "--using", "RETRIEVAL k=1");
    }

    private void Refused(string sqlState, string message, params string[] args)
    {
        var r = CliRun.Run(Data, ["perplexity", .. args]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Equal("", r.Output);
        var line = r.Error.TrimEnd('\n');
        Assert.DoesNotContain('\n', line);
        Assert.Contains(message, line);
        Assert.EndsWith($"[SQLSTATE {sqlState}]", line);
    }
}
