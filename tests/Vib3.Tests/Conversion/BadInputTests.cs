using System.Text;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Cli;

namespace Vib3.Tests.Conversion;

/// <summary>Each kind of bad input gives one clear line naming the file and the problem, a non-zero exit, and
/// leaves the catalog exactly as it was (no model, no staging leftovers).</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public void Dispose() => _dir.Dispose();

    private CliResult Convert(string path, string name = "m", params string[] extra) =>
        CliRun.Run(Data, ["convert", path, "--name", name, .. extra]);

    private void AssertFailsCleanly(CliResult r, string sqlState, params string[] mentions)
    {
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        var line = r.Error.Trim();
        Assert.DoesNotContain('\n', line);
        Assert.Contains($"SQLSTATE {sqlState}", line);
        foreach (var m in mentions) Assert.Contains(m, line);
        Assert.DoesNotContain(new ModelCatalog(Data).List(), x => x.Name == "m");
        var staging = Path.Combine(Data, "staging");
        Assert.True(!Directory.Exists(staging) || Directory.GetDirectories(staging).Length == 0, "staging left behind");
    }

    private string Hf(DType dtype = DType.F32) =>
        SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, dtype), "hf");

    private string Gguf() => SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Qwen3Moe, DType.F32), "gguf");

    [Fact]
    public void Missing_path()
    {
        var path = _dir.Sub("nope");
        AssertFailsCleanly(Convert(path), SqlState.UndefinedObject, path, "no such file");
    }

    [Fact]
    public void Truncated_gguf()
    {
        var file = Gguf();
        using (var fs = new FileStream(file, FileMode.Open)) fs.SetLength(fs.Length * 2 / 3);
        AssertFailsCleanly(Convert(file), SqlState.InvalidParameterValue, file);
    }

    [Fact]
    public void Truncated_safetensors()
    {
        var folder = Hf();
        var file = Path.Combine(folder, "model.safetensors");
        using (var fs = new FileStream(file, FileMode.Open)) fs.SetLength(fs.Length - 1000);
        AssertFailsCleanly(Convert(folder), SqlState.InvalidParameterValue, file);
    }

    [Fact]
    public void Bad_magic()
    {
        var file = Gguf();
        using (var fs = new FileStream(file, FileMode.Open)) fs.Write("GGUX"u8);
        AssertFailsCleanly(Convert(file), SqlState.InvalidParameterValue, file);
    }

    /// <summary>The chat template is rendered inside the server, so one that reaches a Jinja limit is refused
    /// before conversion writes anything: in tokenizer_config.json or in chat_template.jinja.</summary>
    [Theory]
    [InlineData("tokenizer_config.json", "nested deeper than 200 levels")]
    [InlineData("chat_template.jinja", "range() of 100000000 items")]
    public void Chat_template_past_a_limit(string file, string what)
    {
        var folder = Hf();
        if (file == "chat_template.jinja")
            File.WriteAllText(Path.Combine(folder, file), "{{ bos_token }}\n{% for i in range(100000000) %}{% endfor %}");
        else
        {
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, file)))!;
            config["chat_template"] = "{{ " + new string('(', 20_000) + "1" + new string(')', 20_000) + " }}";
            File.WriteAllText(Path.Combine(folder, file), config.ToJsonString());
        }
        AssertFailsCleanly(Convert(folder), SqlState.ProgramLimitExceeded, folder, "chat template", what);
    }

    [Fact]
    public void Chat_template_beyond_the_jinja_subset_still_converts()
    {
        var folder = Hf();
        File.WriteAllText(Path.Combine(folder, "chat_template.jinja"), "{% call f() %}x{% endcall %}");
        var r = Convert(folder);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains(new ModelCatalog(Data).List(), x => x.Name == "m");
    }

    [Fact]
    public void Header_offsets_that_lie()
    {
        var folder = Hf();
        var file = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        var header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        // Push the last tensor's end offset far past the end of the file, keeping the header's length.
        var at = header.LastIndexOf("data_offsets", StringComparison.Ordinal);
        var close = header.IndexOf(']', at);
        var comma = header.LastIndexOf(',', close);
        var digits = close - comma - 1;
        var lie = new string('9', digits);
        header = header[..(comma + 1)] + lie + header[close..];
        Encoding.UTF8.GetBytes(header).CopyTo(bytes, 8);
        File.WriteAllBytes(file, bytes);
        AssertFailsCleanly(Convert(folder), SqlState.InvalidParameterValue, file);
    }

    [Fact]
    public void Missing_tensor()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32);
        var folder = _dir.Sub("missing");
        SyntheticModelGenerator.WriteHf(spec, folder);
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var writer = new SafetensorsWriter();
        const string dropped = "model.layers.1.self_attn.k_proj.weight";
        foreach (var t in SyntheticModelGenerator.HfTensors(spec).Where(t => t.Name != dropped))
            writer.Add(t.Name, DType.F32, t.Shape, SyntheticModelGenerator.HfBytes(spec, t.Name));
        writer.Write(folder);
        AssertFailsCleanly(Convert(folder), SqlState.UndefinedObject, folder, dropped);
    }

    [Fact]
    public void Shape_that_disagrees_with_config()
    {
        var folder = Hf();
        var config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 1"));
        AssertFailsCleanly(Convert(folder), SqlState.InvalidParameterValue, "k_proj", "[32, 64]", "[16, 64]");
    }

    [Fact]
    public void Unknown_architecture()
    {
        var folder = Hf();
        var config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("MixtralForCausalLM", "GPTNeoXForCausalLM"));
        AssertFailsCleanly(Convert(folder), SqlState.FeatureNotSupported, config, "GPTNeoXForCausalLM", "MixtralForCausalLM");
    }

    [Fact]
    public void Unsupported_dtype()
    {
        var folder = Hf(DType.F16);
        var file = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        var headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        var header = Encoding.UTF8.GetString(bytes, 8, headerLength);
        var at = header.IndexOf("\"F16\"", StringComparison.Ordinal);
        Encoding.UTF8.GetBytes("\"I16\"").CopyTo(bytes, 8 + Encoding.UTF8.GetByteCount(header[..at]));
        File.WriteAllBytes(file, bytes);
        AssertFailsCleanly(Convert(folder), SqlState.FeatureNotSupported, file, "I16");
    }

    [Fact]
    public void Unsupported_target_dtype()
    {
        AssertFailsCleanly(Convert(Hf(), "m", "--dtype", "iq4_nl"), SqlState.FeatureNotSupported, "iq4_nl");
    }

    [Fact]
    public void Name_already_taken()
    {
        var folder = Hf();
        Assert.Equal(0, Convert(folder, "taken").ExitCode);
        var again = Convert(folder, "taken");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, again.ExitCode);
        Assert.Contains("'taken' already exists", again.Error);
        Assert.Contains($"SQLSTATE {SqlState.DuplicateObject}", again.Error);
        Assert.Single(new ModelCatalog(Data).List());
    }

    [Fact]
    public void Invalid_model_name()
    {
        AssertFailsCleanly(Convert(Hf(), "../evil"), SqlState.InvalidParameterValue, "invalid model name");
    }

    [Fact]
    public void Hf_folder_without_a_tokenizer()
    {
        var folder = Hf();
        File.Delete(Path.Combine(folder, "tokenizer.json"));
        AssertFailsCleanly(Convert(folder), SqlState.UndefinedObject, folder, "no tokenizer");
    }

    [Fact]
    public void Gguf_of_an_unknown_architecture()
    {
        var file = _dir.Sub("neox.gguf");
        var w = new GgufWriter();
        w.AddString("general.architecture", "gptneox");
        w.AddTensor("token_embd.weight", DType.F32, [4, 8], new byte[4 * 8 * 4]);
        w.Write(file);
        AssertFailsCleanly(Convert(file), SqlState.FeatureNotSupported, file, "'gptneox'", "qwen3moe");
    }

    [Fact]
    public void Gguf_llama_without_experts_is_not_a_moe()
    {
        var file = _dir.Sub("dense.gguf");
        var w = new GgufWriter();
        w.AddString("general.architecture", "llama");
        w.AddUInt32("llama.block_count", 1);
        w.AddTensor("token_embd.weight", DType.F32, [4, 8], new byte[4 * 8 * 4]);
        w.Write(file);
        AssertFailsCleanly(Convert(file), SqlState.FeatureNotSupported, file, "Mixture-of-Experts");
    }
}
