using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>vib3 convert's --dtype mixes and per-role --expert-dtype / --dense-dtype, run as a user runs them, with the
/// types read back from the stored manifest.</summary>
public sealed class ConvertDtypeCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>An f32 safetensors Mixtral whose widths (64, 96) hold whole 32-value blocks.</summary>
    private string Hf() => SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32) with { ExpertHidden = 96 }, "hf");

    private ModelManifest Converted(params string[] options)
    {
        var data = _dir.Sub("data");
        var run = CliRun.Run(data, ["convert", Hf(), "--name", "m", .. options]);
        Assert.True(run.ExitCode == 0, run.Error);
        return new ModelCatalog(data).Get("m");
    }

    [Fact]
    public void Expert_and_dense_dtypes_apply_by_role_and_vectors_and_routers_stay_f32()
    {
        var manifest = Converted("--expert-dtype", "q4_0", "--dense-dtype", "bf16");
        Assert.All(manifest.ExpertGrids, g => Assert.Equal("q4_0", g.DType));
        foreach (var t in manifest.Tensors)
            Assert.Equal(t.Shape.Length == 1 || t.Role == "router" ? "f32" : "bf16", t.DType);
    }

    [Fact]
    public void A_mix_with_an_expert_override_keeps_the_mix_for_the_rest()
    {
        // 64-wide rows are not whole 256-value blocks: the mix falls back as llama.cpp does (Q4_K → Q5_0, and the
        // output's Q6_K → Q8_0).
        var manifest = Converted("--dtype", "q4_k_m", "--expert-dtype", "q8_0");
        Assert.All(manifest.ExpertGrids, g => Assert.Equal("q8_0", g.DType));
        Assert.Equal("q8_0", manifest.Tensors.Single(t => t.Name == "output").DType);
        Assert.Equal("q5_0", manifest.Tensors.Single(t => t.Name == "blk.0.attn_q").DType);
        Assert.Equal("f32", manifest.Tensors.Single(t => t.Name == "blk.0.ffn_gate_inp").DType);
    }

    [Fact]
    public void An_expert_mix_gives_each_layer_llama_cpps_expert_types_and_info_shows_the_request()
    {
        // Q4_K_M's rules on 64-wide gate/up rows and 96-wide down rows: gate and up Q4_K → Q5_0 in every layer; down
        // Q4_K → Q5_0 in layer 0 and Q6_K → Q8_0 in layer 1, a "more bits" layer (the last eighth of two layers).
        var manifest = Converted("--dtype", "q8_0", "--expert-dtype", "q4_k_m");
        Assert.Equal(["q5_0", "q5_0"], manifest.ExpertGrids.Select(g => g.DType));
        Assert.Equal(["q5_0", "q8_0"], manifest.ExpertGrids.Select(g => g.DownType().Name()));
        Assert.Equal("q8_0", manifest.Tensors.Single(t => t.Name == "blk.0.attn_q").DType);
        Assert.Equal("q8_0, experts q4_k_m", manifest.Quantization);

        var info = CliRun.Run(_dir.Sub("data"), "info", "m");
        Assert.True(info.ExitCode == 0, info.Error);
        Assert.Contains("q8_0, experts q4_k_m (as vib3 convert was asked)", info.Output);
    }

    [Fact]
    public void Without_a_dtype_the_manifest_records_no_request()
    {
        var manifest = Converted();
        Assert.Null(manifest.Quantization);
        Assert.All(manifest.ExpertGrids, g => Assert.Equal("f32", g.DType));
    }

    [Fact]
    public void A_mix_whose_fallback_vib3_cannot_write_is_refused_naming_the_tensor()
    {
        // llama.cpp's IQ4_XS falls back to IQ4_NL on 64-wide rows; vib3 reads IQ4_NL but has no encoder for it.
        var data = _dir.Sub("data");
        var run = CliRun.Run(data, "convert", Hf(), "--name", "m", "--dtype", "iq4_xs");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, run.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.FeatureNotSupported}", run.Error);
        Assert.Contains("iq4_xs stores token_embd (rows of 64 values) as iq4_nl", run.Error);
        Assert.DoesNotContain("   at ", run.Error);
        Assert.False(new ModelCatalog(data).Exists("m"));
    }

    [Theory]
    [InlineData("--expert-dtype", "iq4_nl")]
    [InlineData("--dense-dtype", "tq2_0")]
    [InlineData("--dtype", "q4_1_m")]
    [InlineData("--expert-dtype", "q4_k_l")] // not one of the mixes vib3 writes
    public void A_type_vib3_cannot_write_is_refused_in_one_line_before_anything_is_written(string option, string type)
    {
        var data = _dir.Sub("data");
        var run = CliRun.Run(data, "convert", Hf(), "--name", "m", option, type);
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, run.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.FeatureNotSupported}", run.Error);
        Assert.Contains($"{option} {type}", run.Error);
        Assert.Contains("q4_k", run.Error); // it says what vib3 writes
        Assert.DoesNotContain("   at ", run.Error);
        Assert.False(new ModelCatalog(data).Exists("m"));
    }

    [Fact]
    public void A_K_type_whose_blocks_do_not_fit_the_rows_is_refused_naming_the_type()
    {
        // A single type is taken as asked (no silent fallback, unlike a mix): 256-value blocks cannot cut 64-wide rows.
        var data = _dir.Sub("data");
        var run = CliRun.Run(data, "convert", Hf(), "--name", "m", "--dtype", "q4_k");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, run.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.FeatureNotSupported}", run.Error);
        Assert.Contains("q4_k blocks of 256 values need the hidden size (64) to be a multiple of 256", run.Error);
        Assert.False(new ModelCatalog(data).Exists("m"));
    }
}
