using System.Text.Json;
using LLama.Native;
using Vib3.Core;
using Vib3.LlamaCpp;
using Vib3.Query;
using Vib3.Query.Planning;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>A llama.cpp Q4_K_M mix as a user meets it: vib3 models, vib3 info, vib3_layers, vib3_tensors and EXPLAIN say
/// which type each weight is stored in and its bits per weight, and the planner's bytes per token are the bytes a decoded
/// token really reads. The model is an f32 GGUF 256 wide (whole K-quant blocks, so the mix really applies) quantised to
/// Q4_K_M by llama.cpp's own quantizer and converted as it is, once for the class: over 2 layers llama.cpp gives layer
/// 1's expert down matrices and attn_v Q6_K, the output Q6_K, the other matrices Q4_K, the routers f32.</summary>
public sealed class MixedTypesCliTests : IClassFixture<MixedTypesCliTests.Mix>
{
    private readonly Mix _mix;

    public MixedTypesCliTests(Mix mix) => _mix = mix;

    public sealed class Mix : IDisposable
    {
        private readonly TempDir _dir = new();

        public Mix()
        {
            var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 256, ExpertHidden = 256 };
            var f32 = SyntheticCheckpoints.Write(_dir, spec, "gguf");
            var source = _dir.Sub("m.Q4_K_M.gguf");
            LlamaCppQuantizer.Quantize(f32, source, LLamaFtype.MOSTLY_Q4_K_M);
            Data = _dir.Sub("data");
            var run = CliRun.Run(Data, "convert", source, "--name", "m");
            Assert.True(run.ExitCode == 0, run.Error);
            Manifest = new ModelCatalog(Data).Get("m");
        }

        public string Data { get; }

        public ModelManifest Manifest { get; }

        public void Dispose() => _dir.Dispose();
    }

    private CliResult Run(params string[] args)
    {
        var r = CliRun.Run(_mix.Data, args);
        Assert.True(r.ExitCode == 0, r.Error);
        return r;
    }

    [Fact]
    public void The_fixture_is_a_real_mix()
    {
        var m = _mix.Manifest;
        Assert.Equal(["q4_k", "q4_k"], m.ExpertGrids.Select(g => g.DType));
        Assert.Equal([DType.Q4_K, DType.Q6_K], m.ExpertGrids.Select(g => g.DownType()));
        Assert.Equal("q6_k", m.Tensors.Single(t => t.Name == "blk.1.attn_v").DType);
        Assert.Equal("q4_k", m.Tensors.Single(t => t.Name == "blk.0.attn_v").DType);
    }

    [Fact]
    public void The_stored_tensors_account_for_every_page_byte_and_parameter()
    {
        var tensors = StoredTensors.Of(_mix.Manifest);
        Assert.Equal(_mix.Manifest.PageBytes, tensors.Sum(t => t.Bytes));
        Assert.Equal(_mix.Manifest.Parameters, tensors.Sum(t => t.Parameters));
    }

    [Fact]
    public void Models_says_the_mix_and_its_bits_per_weight()
    {
        var m = _mix.Manifest;
        var output = Run("models").Output;
        Assert.Contains("bits/weight", output);
        Assert.Contains("q4_k (mixed: q6_k, f32)", output);
        // stored bytes × 8 / parameters, from the manifest's own totals
        Assert.Contains(StoredTensors.FormatBits(m.PageBytes * 8.0 / m.Parameters), output);
    }

    [Fact]
    public void Info_gives_each_type_its_share_and_the_expert_types_of_each_layer()
    {
        var output = Run("info", "m").Output;
        Assert.Contains("expert types", output);
        Assert.Contains("layer 0: gate/up q4_k, down q4_k; layer 1: gate/up q4_k, down q6_k", output);
        var rows = output.Split('\n').Select(l => l.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        // ggml's bits per weight: Q4_K 144 bytes per 256 values, Q6_K 210 per 256
        Assert.Contains(rows, r => r is ["q4_k", _, _, _, "4.50"]);
        Assert.Contains(rows, r => r is ["q6_k", _, _, _, "6.56"]);
        Assert.Contains(rows, r => r is ["f32", _, _, _, "32.00"]);
    }

    [Fact]
    public void Vib3_layers_and_vib3_tensors_give_each_weights_type_and_bits()
    {
        var results = Run("query",
            "SELECT layer, gate_up_dtype, down_dtype, bits_per_weight FROM vib3_layers WHERE model = 'm' ORDER BY layer; " +
            "SELECT name, role, dtype, shape, bytes, bits_per_weight FROM vib3_tensors WHERE model = 'm' AND layer = 1 AND dtype = 'q6_k' ORDER BY name; " +
            "SELECT name, dtype FROM vib3_tensors WHERE model = 'm' AND layer IS NULL ORDER BY name; " +
            "DESCRIBE vib3_tensors",
            "--format", "json").Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("rows")).ToArray();

        var layers = results[0].EnumerateArray().ToArray();
        Assert.Equal([0L, 1L], layers.Select(r => r[0].GetInt64()));
        Assert.Equal(["q4_k", "q4_k"], layers.Select(r => r[1].GetString()));
        Assert.Equal(["q4_k", "q6_k"], layers.Select(r => r[2].GetString()));
        Assert.Equal(4.5, layers[0][3].GetDouble(), 12);
        Assert.Equal((4.5 + 4.5 + 6.5625) / 3, layers[1][3].GetDouble(), 12); // gate and up q4_k, down q6_k

        var wide = results[1].EnumerateArray().ToArray();
        Assert.Equal(["blk.1.attn_v", "blk.1.ffn_down_exps"], wide.Select(r => r[0].GetString()));
        Assert.Equal(["attn_v", "expert_down"], wide.Select(r => r[1].GetString()));
        Assert.Equal("4 x 256 x 256", wide[1][3].GetString()); // experts x dim x expert hidden
        Assert.Equal(4L * 256 * 256 / 256 * 210, wide[1][4].GetInt64());
        Assert.All(wide, r => Assert.Equal(6.5625, r[5].GetDouble(), 12));

        Assert.Equal(["output", "output_norm", "token_embd"], results[2].EnumerateArray().Select(r => r[0].GetString()));
        Assert.Contains(results[3].EnumerateArray(), r => r[0].GetString() == "bits_per_weight" && r[1].GetString() == "double precision");
    }

    [Fact]
    public void Explain_names_each_operators_weight_types()
    {
        var plan = Run("query", "EXPLAIN GENERATE 'hi' FROM MODEL m").Output;
        Assert.Contains("GENERATE model=m (mixtral, 2 layers, q4_k (mixed: q6_k, f32), ", plan);
        Assert.Contains("(gate/up q4_k, down q6_k), chosen per token", plan);
        Assert.Contains("weights q4_k (attn_v q6_k)", plan); // layer 1's attention
        Assert.Contains("renormalised; weights f32", plan); // the routers stay f32
    }

    [Fact]
    public void The_planned_bytes_per_token_are_the_bytes_a_decoded_token_reads()
    {
        var plan = Planner.Plan((GenerationStatement)StatementParser.Parse("GENERATE 'x' FROM MODEL m").Single(),
            new PlannerContext(name => new ModelCatalog(_mix.Data).Get(name), null, 1L << 30));
        var bench = JsonDocument.Parse(Run("bench", "--model", "m", "--prompt-tokens", "4", "--gen-tokens", "8", "--threads", "1",
            "--repetitions", "1").Output).RootElement.GetProperty("decode_bytes_per_token");
        // Warm and within the budget: every page a decoded token needs is a RAM hit, none is read twice.
        Assert.Equal(0, bench.GetProperty("disk").GetInt64());
        Assert.True(plan.Estimate.BytesPerToken == bench.GetProperty("ram").GetInt64(),
            $"planned {plan.Estimate.BytesPerToken} B per token, read {bench.GetProperty("ram").GetInt64()}:\n{PlanPrinter.Print(plan)}");
        Assert.True(plan.Estimate.ExpertBytesPerToken == 2 * _mix.Manifest.ExpertGrids.Sum(g => g.BundleBytes(g.ExpertHidden)),
            "top-2 experts per layer, each layer's at its own types");
    }
}
