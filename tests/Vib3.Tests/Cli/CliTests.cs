using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>convert / models / info / drop as a user runs them.</summary>
public sealed class CliTests
{
    [Fact]
    public void Convert_then_list_and_describe()
    {
        using var dir = new TempDir();
        var data = dir.Sub("data");
        var gguf = SyntheticCheckpoints.Write(dir, SyntheticCheckpoints.Small(ModelFamily.Qwen2Moe, DType.F16), "gguf");

        Assert.Contains("no models", CliRun.Run(data, "models").Output);
        var convert = CliRun.Run(data, "convert", gguf, "--name", "qwen", "--dtype", "bf16");
        Assert.True(convert.ExitCode == 0, convert.Error);
        Assert.Contains("converted qwen", convert.Output);

        var models = CliRun.Run(data, "models");
        Assert.Equal(0, models.ExitCode);
        Assert.Contains("qwen", models.Output);
        Assert.Contains("qwen2moe", models.Output);
        Assert.Contains("4 top-2", models.Output);
        Assert.Contains("bf16", models.Output);

        var info = CliRun.Run(data, "info", "qwen");
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("shared expert hidden 64", info.Output);
        Assert.Contains("source f16", info.Output);
        Assert.Contains("gguf", info.Output);

        Assert.Equal(0, CliRun.Run(data, "drop", "qwen").ExitCode);
        var gone = CliRun.Run(data, "info", "qwen");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, gone.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.UndefinedObject}", gone.Error);
    }

    [Fact]
    public void A_deepseek2_folder_lists_its_skipped_mtp_layer_and_latent_attention()
    {
        using var dir = new TempDir();
        var data = dir.Sub("data");
        var hf = SyntheticCheckpoints.Write(dir, SyntheticCheckpoints.Small(ModelFamily.Deepseek2, DType.BF16) with
        {
            Layers = 3, Experts = 8, TopK = 2, ExpertHidden = 32, MtpLayers = 1, YarnFactor = 4, MscaleAllDim = 1,
        }, "hf");
        var convert = CliRun.Run(data, "convert", hf, "--name", "ds");
        Assert.True(convert.ExitCode == 0, convert.Error);

        Assert.Contains("3 (+1 MTP skipped)", CliRun.Run(data, "models").Output);
        var info = CliRun.Run(data, "info", "ds").Output;
        Assert.Contains("1 multi-token-prediction layer(s) in the source not converted", info);
        Assert.Contains("the first 1 dense", info);
        Assert.Contains("latent (MLA), 4 heads, q/k 16+8 (rope), v 16, q rank 24, kv rank 32", info);
        Assert.Contains("sigmoid scores", info);
    }

    [Fact]
    public void Demo_installs_the_trained_model_once_and_writes_english_then_explain_analyze()
    {
        using var dir = new TempDir();
        var first = CliRun.Run(dir.Sub("data"), "demo");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("installing the default model", first.Output);
        var generated = first.Output[(first.Output.IndexOf("STREAM", StringComparison.Ordinal) + 6)..];
        generated = generated[..generated.IndexOf("vib3> EXPLAIN", StringComparison.Ordinal)];
        // a trained model continues in words, not byte soup: most tokens of the text are plain English words
        var words = generated.Split([' ', '\n', '.', ',', ';', ':'], StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Count(w => w.All(char.IsAsciiLetter)) >= 0.7 * words.Length && words.Length >= 10, generated);
        Assert.Contains("ANALYZE", first.Output);
        Assert.Contains("24 generated", first.Output);
        // installed retrieval-ready: one neuron a page and the index's neuron keys, so USING RETRIEVAL reads less than
        // exact routing, and the demo says what that costs on held-out text
        Assert.Contains("CREATE INDEX ON MODEL vib3-moe WITH (calibration = ", first.Output); // the name unquoted, as vib3 models prints it
        Assert.Contains("each layer's calibrated mass", first.Output);
        Assert.Contains("R=1 a page", first.Output);
        Assert.Contains("of neuron keys", first.Output);
        var retrieval = first.Output.Split('\n').Single(l => l.Contains("USING RETRIEVAL │", StringComparison.Ordinal));
        Assert.Matches(@"MiB \(-[1-9][0-9]%\)", retrieval); // expert bytes a token: tens of percent fewer than exact routing

        var second = CliRun.Run(dir.Sub("data"), "demo");
        Assert.True(second.ExitCode == 0, second.Error);
        Assert.DoesNotContain("installing the default model", second.Output);
    }

    /// <summary>vib3 query reads its statements from stdin when they are piped in, or when asked with "-" (as the
    /// argument or as -f); nothing on stdin, or an argument and a file at once, is one clear error.</summary>
    [Fact]
    public void Query_reads_statements_from_stdin()
    {
        using var dir = new TempDir();
        var piped = CliRun.RunWithInput(dir.Sub("data"), "SELECT 2 AS two;\nSELECT 'x' AS letter;\n", "query", "--format", "csv");
        Assert.True(piped.ExitCode == 0, piped.Error);
        Assert.Equal(["two", "2", "letter", "x"], piped.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (var dash in new[] { new[] { "query", "-" }, ["query", "-f", "-"] })
        {
            var r = CliRun.RunWithInput(dir.Sub("data"), "SELECT 3 AS three", [.. dash, "--format", "csv"]);
            Assert.True(r.ExitCode == 0, r.Error);
            Assert.Contains("three", r.Output);
        }
        var empty = CliRun.RunWithInput(dir.Sub("data"), "  \n", "query");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, empty.ExitCode);
        Assert.Contains("no statements on stdin", empty.Error);
        var both = CliRun.Run(dir.Sub("data"), "query", "SELECT 1", "-f", "x.sql");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, both.ExitCode);
        Assert.Contains("not both", both.Error);
    }

    [Fact]
    public void Cache_policy_is_a_global_option_and_a_bad_name_is_a_clear_error()
    {
        using var dir = new TempDir();
        var bad = CliRun.Run(dir.Sub("data"), "models", "--cache-policy", "fifo");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, bad.ExitCode);
        Assert.Contains("fifo", bad.Error);
        Assert.Contains("22023", bad.Error);
        foreach (var policy in new[] { "lru", "lfru" })
        {
            var ok = CliRun.Run(dir.Sub("data"), "models", "--cache-policy", policy);
            Assert.True(ok.ExitCode == 0, ok.Error);
        }
    }

    [Fact]
    public void Bad_ram_budget_is_a_clear_error()
    {
        using var dir = new TempDir();
        var r = CliRun.Run(dir.Sub("data"), "demo", "--ram-budget", "lots");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains("'lots'", r.Error);
    }
}
