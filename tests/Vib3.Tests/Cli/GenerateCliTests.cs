using System.Text.Json;
using Vib3.Core;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>generate / logits / bench as a user runs them on a converted model.</summary>
public sealed class GenerateCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public GenerateCliTests()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Qwen3Moe, DType.F32);
        var source = SyntheticCheckpoints.Write(_dir, spec, "hf");
        var r = CliRun.Run(Data, "convert", source, "--name", "m");
        Assert.True(r.ExitCode == 0, r.Error);
    }

    public void Dispose() => _dir.Dispose();

    private CliResult Generate(params string[] extra) =>
        CliRun.Run(Data, ["generate", "--model", "m", "--prompt", "the quick brown fox", "--max-tokens", "24", .. extra]);

    [Fact]
    public void Same_seed_same_text_and_another_seed_differs()
    {
        var a = Generate("--temperature", "0.9", "--seed", "42");
        var b = Generate("--temperature", "0.9", "--seed", "42");
        var c = Generate("--temperature", "0.9", "--seed", "43");
        Assert.True(a.ExitCode == 0, a.Error);
        Assert.False(string.IsNullOrWhiteSpace(a.Output));
        Assert.Equal(a.Output, b.Output);
        Assert.NotEqual(a.Output, c.Output);
    }

    [Fact]
    public void Greedy_is_deterministic_and_a_tight_budget_gives_the_same_text()
    {
        var roomy = Generate();
        var tight = Generate("--ram-budget", "2200KiB", "--stats");
        Assert.True(tight.ExitCode == 0, tight.Error);
        Assert.Equal(roomy.Output, tight.Output);
        Assert.Contains("MB read from disk", tight.Error);
    }

    [Fact]
    public void A_stop_string_ends_the_text_before_it()
    {
        var full = Generate().Output.TrimEnd('\n');
        Assert.True(full.Length > 4, "the greedy continuation is too short to cut");
        var stop = full.Substring(full.Length / 2, 2);
        var cut = Generate("--stop", stop).Output.TrimEnd('\n');
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], cut);
    }

    [Fact]
    public void Chat_wraps_the_prompt_in_the_family_template()
    {
        static int PromptTokens(CliResult r) =>
            int.Parse(System.Text.RegularExpressions.Regex.Match(r.Error, @"vib3: (\d+) prompt").Groups[1].Value);
        var plain = Generate("--stats");
        var chat = Generate("--stats", "--chat", "--system", "be brief");
        Assert.True(chat.ExitCode == 0, chat.Error);
        // Qwen3-MoE's ChatML adds <|im_start|>system ... <|im_start|>user ... <|im_start|>assistant around the text.
        Assert.True(PromptTokens(chat) > PromptTokens(plain) + 6, $"{PromptTokens(chat)} vs {PromptTokens(plain)}");
    }

    [Fact]
    public void Ignore_eos_runs_to_max_tokens_and_the_sampling_options_reach_the_engine()
    {
        var r = Generate("--ignore-eos", "--stats", "--repeat-penalty", "1.3");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("+ 24 generated", r.Error);
        Assert.Contains("finish length", r.Error);
        var bad = Generate("--repeat-penalty", "0");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, bad.ExitCode);
        Assert.Contains("repetition penalty must be > 0", bad.Error);
        foreach (var (option, message) in new[] { ("--top-k", "--top-k must be 0 (all) or more, not -1"), ("--seed", "--seed must be 0 or more, not -1") })
        {
            var refused = Generate(option, "-1");
            Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, refused.ExitCode);
            Assert.Contains(message, refused.Error);
        }
        Assert.True(Generate("--temperature", "7e-1", "--seed", "3").ExitCode == 0, "an exponent is a number");
    }

    /// <summary>Without --model, vib3 generate runs the only stored model: the same text as naming it.</summary>
    [Fact]
    public void Without_model_it_runs_the_only_one_stored()
    {
        var named = CliRun.Run(Data, "generate", "--model", "m", "--prompt", "hello", "--max-tokens", "4", "--seed", "1");
        var only = CliRun.Run(Data, "generate", "--prompt", "hello", "--max-tokens", "4", "--seed", "1");
        Assert.True(only.ExitCode == 0, only.Error);
        Assert.Equal(named.Output, only.Output);
    }

    [Fact]
    public void Zero_max_tokens_generates_nothing_and_reads_no_pages()
    {
        var r = CliRun.Run(Data, "generate", "--model", "m", "--prompt", "hello", "--max-tokens", "0", "--stats");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("", r.Output.Trim());
        Assert.Contains("+ 0 generated", r.Error);
    }

    [Fact]
    public void A_context_beyond_the_models_is_refused()
    {
        var r = CliRun.Run(Data, "logits", "--model", "m", "--tokens", "5", "--context", "100000");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains("exceeds model 'm''s context length", r.Error);
    }

    [Fact]
    public void Logits_print_json_for_every_position()
    {
        var r = CliRun.Run(Data, "logits", "--model", "m", "--tokens", "5,9,13", "--all-positions");
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Output);
        var vocab = json.RootElement.GetProperty("n_vocab").GetInt32();
        var rows = json.RootElement.GetProperty("logits");
        Assert.Equal(3, rows.GetArrayLength());
        Assert.All(rows.EnumerateArray(), row => Assert.Equal(vocab, row.GetArrayLength()));
    }

    [Fact]
    public void Bench_measures_repetitions_after_a_warm_up_like_llama_bench()
    {
        var r = CliRun.Run(Data, "bench", "--model", "m", "--prompt-tokens", "8", "--gen-tokens", "4", "--threads", "1",
            "--warmup", "1", "--repetitions", "3");
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Output);
        var root = json.RootElement;
        Assert.Equal("warm", root.GetProperty("cache").GetString());
        Assert.Equal(3, root.GetProperty("repetitions").GetInt32());
        foreach (var figure in new[] { "prefill_tokens_per_second", "decode_tokens_per_second" })
        {
            var f = root.GetProperty(figure);
            var samples = f.GetProperty("samples").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal(3, samples.Length);
            Assert.All(samples, x => Assert.True(x > 0, $"{figure} sample {x}"));
            Assert.Equal(samples.Min(), f.GetProperty("min").GetDouble());
            Assert.Equal(samples.Max(), f.GetProperty("max").GetDouble());
            Assert.InRange(f.GetProperty("median").GetDouble(), samples.Min(), samples.Max());
            Assert.True(f.GetProperty("sd").GetDouble() >= 0);
        }
        // The warm-up read every page the run needs and the model fits the default budget: nothing comes from disk.
        Assert.Equal(0, root.GetProperty("prefill_disk_bytes").GetInt64());
        Assert.Equal(0, root.GetProperty("decode_bytes_per_token").GetProperty("disk").GetInt64());
        Assert.True(root.GetProperty("decode_bytes_per_token").GetProperty("ram").GetInt64() > 0);
    }

    [Fact]
    public void Bench_routes_as_its_using_clause_says_and_refuses_one_that_is_not()
    {
        var r = CliRun.Run(Data, "bench", "--model", "m", "--prompt-tokens", "4", "--gen-tokens", "2", "--threads", "1", "--repetitions", "1");
        Assert.True(r.ExitCode == 0, r.Error);
        using (var json = JsonDocument.Parse(r.Output))
        {
            Assert.Equal("ROUTER", json.RootElement.GetProperty("using").GetString());
            Assert.StartsWith("ROUTER top-2 of", json.RootElement.GetProperty("routing").GetString());
        }
        // Retrieval needs the model's index, which this one has not: refused naming CREATE INDEX, nothing measured.
        r = CliRun.Run(Data, "bench", "--model", "m", "--gen-tokens", "2", "--using", "RETRIEVAL mass=0.9");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("USING RETRIEVAL needs a page index", r.Error);
        r = CliRun.Run(Data, "bench", "--model", "m", "--gen-tokens", "2", "--using", "RETRIEVAL mass=2");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--using 'RETRIEVAL mass=2' is not a USING clause: invalid mass", r.Error);
    }

    [Fact]
    public void Bench_cold_starts_every_repetition_from_disk()
    {
        var r = CliRun.Run(Data, "bench", "--model", "m", "--prompt-tokens", "8", "--gen-tokens", "2", "--threads", "1",
            "--repetitions", "2", "--cold");
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Output);
        var root = json.RootElement;
        Assert.Equal("cold", root.GetProperty("cache").GetString());
        Assert.True(root.GetProperty("os_cache_dropped").GetBoolean());
        // Each repetition's prefill read the model's pages again (the mean over both is more than nothing).
        Assert.True(root.GetProperty("prefill_disk_bytes").GetInt64() > 0);
    }

    [Theory]
    [InlineData("--repetitions", "0")]
    [InlineData("--warmup", "-1")]
    public void Bench_refuses_a_nonsense_run_count(string option, string value)
    {
        var r = CliRun.Run(Data, "bench", "--model", "m", option, value);
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains(option, r.Error);
        Assert.Contains($"SQLSTATE {SqlState.InvalidParameterValue}", r.Error);
    }

    [Theory]
    [InlineData("--tokens", "5,x", "'x' is not a token id")]
    [InlineData("--tokens", "99999", "outside the vocabulary")]
    public void Bad_tokens_are_clear_errors(string option, string value, string message)
    {
        var r = CliRun.Run(Data, "logits", "--model", "m", option, value);
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.Contains($"SQLSTATE {SqlState.InvalidParameterValue}", r.Error);
    }

    [Fact]
    public void A_prompt_longer_than_the_context_is_a_clear_error()
    {
        var r = CliRun.Run(Data, "logits", "--model", "m", "--tokens", "5,6,7,8,9", "--context", "4");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains("the prompt is 5 tokens", r.Error);
        Assert.Contains("--context", r.Error);
        Assert.Contains($"SQLSTATE {SqlState.ProgramLimitExceeded}", r.Error);
    }
}
