using ILGPU.Runtime;
using LLama.Native;
using Vib3.Core;
using Vib3.Kernels.Gpu;
using Vib3.LlamaCpp;
using Vib3.Models.Device;
using Vib3.Models.Inference;
using Vib3.Models.Weights;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>The dense matrices resident in VRAM and their products on the device (ILGPU's CPU accelerator here): the
/// logits equal the CPU path's within 1e-4 · max |logit| with the same argmax, in prefill (several rows a product) and
/// decode (one), with every matrix resident and with a budget that holds only some; what goes to the device is a
/// tensor's stored bytes even where RAM holds its pages interleaved; a budget larger than the device is refused.
/// Every family reaches the device through the same two projections of the pass, so one family with its products in
/// f32 and one in q8_0 stand for them here: the CPU accelerator emulates each lane of a warp with a thread and takes
/// tens of milliseconds per group of four rows, a minute for a bigger model. The device check runs every family on a
/// real GPU.</summary>
public sealed class DeviceProductsTests : IClassFixture<DeviceProductsTests.Tier>
{
    private readonly DeviceTier _tier;

    public DeviceProductsTests(Tier tier) => _tier = tier.Value;

    /// <summary>One ILGPU CPU accelerator for the class (kernels compile once).</summary>
    public sealed class Tier : IDisposable
    {
        public DeviceTier Value { get; } = DeviceTier.Open(AcceleratorChoice.IlgpuCpu, null, out var notice)
                                           ?? throw new InvalidOperationException($"the ILGPU CPU accelerator did not open: {notice}");

        public void Dispose() => Value.Dispose();
    }

    /// <summary>The smallest vocabulary the synthetic byte tokenizer allows, so the output matrix is few groups.</summary>
    private static SyntheticModelSpec Tiny(ModelFamily family) => ModelFixture.Small(family, DType.F32) with { Vocab = 260 };

    private static async Task AssertSameLogitsAsync(ModelFixture f, DeviceTier tier, bool everyMatrix)
    {
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        var tokens = ModelFixture.Tokens(2, f.Spec.Vocab);
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", options);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", options, device: tier);
        var resident = device.Forward.Device!;
        Assert.True(resident.Count > 0, "no matrix went to the device");
        Assert.Equal(everyMatrix, resident.Count == resident.Candidates);

        DeviceLogits.AssertClose(await cpu.LogitsAsync(tokens, allPositions: true), await device.LogitsAsync(tokens, allPositions: true), "prefill");
        DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(11, cpu.Cache)], [await device.Forward.DecodeAsync(11, device.Cache)], "decode");
    }

    [Fact]
    public async Task The_logits_equal_the_cpu_s()
    {
        using var f = new ModelFixture(Tiny(ModelFamily.Mixtral), "hf");
        await AssertSameLogitsAsync(f, _tier, everyMatrix: true);
    }

    /// <summary>Qwen2-MoE's gated shared expert: its gate, up and down run as one FFN on the device (one round trip).</summary>
    [Fact]
    public async Task A_shared_expert_runs_as_one_ffn_on_the_device()
    {
        using var f = new ModelFixture(Tiny(ModelFamily.Qwen2Moe), "hf");
        await AssertSameLogitsAsync(f, _tier, everyMatrix: true);
    }

    [Fact]
    public async Task A_budget_that_holds_some_matrices_leaves_the_rest_to_the_cpu()
    {
        using var f = new ModelFixture(Tiny(ModelFamily.Mixtral), "hf", storeAs: DType.Q8_0);
        using var small = DeviceTier.Open(AcceleratorChoice.IlgpuCpu, 12 << 10, out _)!;
        await AssertSameLogitsAsync(f, small, everyMatrix: false);
        Assert.Equal(0, small.UsedBytes); // every resident matrix gave its share back when the pass closed
    }

    /// <summary>A device lost in the middle of a run (its accelerator gone): the failing product and every later one run
    /// on the CPU, the logits stay the CPU's, and the pass says why.</summary>
    [Fact]
    public async Task A_device_lost_mid_run_leaves_the_products_to_the_cpu()
    {
        using var f = new ModelFixture(Tiny(ModelFamily.Mixtral), "hf");
        var options = new PageStoreOptions { RamBudgetBytes = 64 << 20 };
        var tokens = ModelFixture.Tokens(2, f.Spec.Vocab);
        using var lost = DeviceTier.Open(AcceleratorChoice.IlgpuCpu, null, out _)!;
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", options);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", options, device: lost);
        DeviceLogits.AssertClose(await cpu.LogitsAsync(tokens, allPositions: true), await device.LogitsAsync(tokens, allPositions: true), "prefill on the device");
        Assert.Null(device.Forward.Device!.Failure);

        lost.Device.Accelerator.Dispose();
        DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(11, cpu.Cache)], [await device.Forward.DecodeAsync(11, device.Cache)], "decode after the loss");
        // Whatever the accelerator throws when used after it is gone (on ILGPU's CPU accelerator, one of its own checks).
        Assert.False(string.IsNullOrWhiteSpace(device.Forward.Device.Failure));
    }

    /// <summary>llama.cpp's Q4_K_M file: its Q4_K and Q6_K matrices are held interleaved in RAM (where the CPU has the
    /// form), yet the device gets each one's stored bytes, which its kernels read.</summary>
    [Fact]
    public async Task A_q4_k_m_file_s_matrices_go_to_the_device_as_stored()
    {
        var spec = Tiny(ModelFamily.Mixtral) with { Dim = 256, ExpertHidden = 256 };
        using var f = new ModelFixture(spec, "gguf", pageRows: 256, rewrite: f32 =>
        {
            var output = Path.ChangeExtension(f32, "Q4_K_M.gguf");
            LlamaCppQuantizer.Quantize(f32, output, LLamaFtype.MOSTLY_Q4_K_M);
            return output;
        });
        using var weights = ModelWeights.Open(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var checkedTypes = new HashSet<DType>();
        foreach (var t in f.Manifest.Tensors.Where(t => t.Shape.Length == 2 && t.Name != "token_embd"))
        {
            var weight = weights.Tensor(t.Name);
            var stored = new List<byte>();
            await weights.StreamAsync(weight, (i, page) => stored.AddRange(weights.StoredBytes(weight.FirstPage + i, page).ToArray()));
            using var matrix = (await DeviceMatrix.UploadAsync(weights, weight, _tier, default))!;
            var onDevice = new byte[matrix.SizeBytes];
            matrix.Bytes.CopyToCPU(onDevice);
            Assert.Equal(stored.ToArray(), onDevice);
            checkedTypes.Add(weight.Type);
        }
        Assert.Contains(DType.Q4_K, checkedTypes);
        Assert.Contains(DType.Q6_K, checkedTypes);
    }

    [Fact]
    public void A_budget_beyond_the_device_is_refused()
    {
        var e = Assert.Throws<Vib3Exception>(() => DeviceTier.Open(AcceleratorChoice.IlgpuCpu, long.MaxValue / 2, out _));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.StartsWith("--vram-budget ", e.Message);
        Assert.Contains(" exceeds the ", e.Message);
    }
}
