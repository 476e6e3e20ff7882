using Vib3.Core;
using Vib3.Kernels.Gpu;
using Vib3.Models.Device;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>Attention over the KV caches mirrored in VRAM (ILGPU's CPU accelerator): logits equal to the CPU path's
/// for f16 and f32 caches through a prompt (rows of one sequence, each seeing its own prefix) and decode steps; a step
/// of several sequences; a cache rewritten in RAM (a shared prefix copied over it) is copied up again; a budget with
/// room for one sequence's cache gives it to the sequence the step runs and the other's rows are copied up again when
/// it returns; no room at all leaves attention to the CPU.</summary>
public sealed class DeviceAttentionTests
{
    private static readonly PageStoreOptions Options = new() { RamBudgetBytes = 64 << 20 };

    private static ModelFixture Model() => new(ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Vocab = 260 }, "hf");

    /// <summary>A tier whose budget holds <paramref name="f"/>'s dense matrices and <paramref name="kvBytes"/> more: the
    /// caches' mirrors take that room back from the expert cache, whose pages then run on the CPU (on ILGPU's CPU
    /// accelerator they take most of a test's time, and they are not what these tests are about).</summary>
    private static async Task<DeviceTier> TierForAsync(ModelFixture f, long kvBytes)
    {
        long dense;
        using (var probe = DeviceTier.Open(AcceleratorChoice.IlgpuCpu, null, out _)!)
        using (var open = await ForwardPass.OpenAsync(f.Catalog, "m", Options, device: probe))
            dense = open.Device!.Bytes;
        return DeviceTier.Open(AcceleratorChoice.IlgpuCpu, dense + kvBytes, out _)!;
    }

    /// <summary>An f16 cache (the engine's default; the other tests' caches are f32): a prompt's rows attend together,
    /// each over its own prefix, then decode steps one row each.</summary>
    [Fact]
    public async Task A_prompt_and_decode_steps_attend_in_vram_as_the_cpu_does()
    {
        using var f = Model();
        var tokens = ModelFixture.Tokens(3, f.Spec.Vocab);
        using var tier = await TierForAsync(f, KvCacheBytes(f, 64, KvCacheType.F16));
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 64, kvCache: KvCacheType.F16);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 64, kvCache: KvCacheType.F16, device: tier);
        DeviceLogits.AssertClose(await cpu.LogitsAsync(tokens, allPositions: true), await device.LogitsAsync(tokens, allPositions: true), "prompt");
        var kv = device.Forward.Device!.Kv;
        Assert.Equal(1, kv.Count);
        Assert.Equal(KvCacheBytes(f, 64, KvCacheType.F16), kv.Bytes);
        for (var t = 0; t < 2; t++)
            DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(7 + t, cpu.Cache)], [await device.Forward.DecodeAsync(7 + t, device.Cache)], $"decode {t}");
    }

    private static long KvCacheBytes(ModelFixture f, int positions, KvCacheType type) => KvCache.For(f.Manifest.Hyper, positions, type).Bytes;

    /// <summary>DeepSeek-V3's latent attention: the latent cache (f16 here) mirrored in VRAM, every (row, head) query
    /// attending there over its own prefix.</summary>
    [Fact]
    public async Task Latent_attention_runs_over_the_latent_cache_in_vram()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Deepseek2, DType.F32) with { Vocab = 260 }, "hf");
        using var tier = await TierForAsync(f, KvCacheBytes(f, 64, KvCacheType.F16));
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 64, kvCache: KvCacheType.F16);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 64, kvCache: KvCacheType.F16, device: tier);
        var tokens = ModelFixture.Tokens(3, f.Spec.Vocab);
        DeviceLogits.AssertClose(await cpu.LogitsAsync(tokens, allPositions: true), await device.LogitsAsync(tokens, allPositions: true), "prompt");
        Assert.Equal(1, device.Forward.Device!.Kv.Count);
        Assert.Equal(KvCacheBytes(f, 64, KvCacheType.F16), device.Forward.Device.Kv.Bytes);
        DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(7, cpu.Cache)], [await device.Forward.DecodeAsync(7, device.Cache)], "decode");
    }

    /// <summary>One step of two sequences at different positions (a serving batch): each attends over its own mirror.</summary>
    [Fact]
    public async Task A_step_of_several_sequences_attends_over_each_one_s_cache()
    {
        using var f = Model();
        using var tier = await TierForAsync(f, 2 * KvCacheBytes(f, 32, KvCacheType.F32));
        using var cpu = await ForwardPass.OpenAsync(f.Catalog, "m", Options);
        using var device = await ForwardPass.OpenAsync(f.Catalog, "m", Options, device: tier);
        var (a, b) = (KvCache.For(cpu.Hyper, 32), KvCache.For(cpu.Hyper, 32));
        var (da, db) = (KvCache.For(cpu.Hyper, 32), KvCache.For(cpu.Hyper, 32));
        await cpu.PrefillAsync([1, 2], a, false);
        await cpu.PrefillAsync([4], b, false);
        await device.PrefillAsync([1, 2], da, false);
        await device.PrefillAsync([4], db, false);
        var expected = await cpu.StepAsync([new StepRow(5, a, 2), new StepRow(6, b, 1), new StepRow(8, b, 2)], [0, 1, 2]);
        var actual = await device.StepAsync([new StepRow(5, da, 2), new StepRow(6, db, 1), new StepRow(8, db, 2)], [0, 1, 2]);
        DeviceLogits.AssertClose([.. expected.Select(r => (float[])r.Clone())], [.. actual.Select(r => (float[])r.Clone())], "batched step");
        Assert.Equal(2, device.Device!.Kv.Count);
    }

    /// <summary>A cache whose rows RAM replaced (a shared prompt's prefix copied over what it held) is copied up again
    /// before the device attends over it: its mirror never serves the rows it held before.</summary>
    [Fact]
    public async Task Rows_rewritten_in_ram_are_copied_up_again()
    {
        using var f = Model();
        using var tier = await TierForAsync(f, 2 * KvCacheBytes(f, 32, KvCacheType.F32));
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 32);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 32, device: tier);
        await device.LogitsAsync([9, 9, 9], allPositions: false); // the mirror holds these rows
        var shared = KvCache.For(device.Forward.Hyper, 32);
        await device.Forward.PrefillAsync([1, 2], shared, false);
        device.Cache.CopyPrefixFrom(shared, 2);
        await cpu.LogitsAsync([1, 2], allPositions: false);
        DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(5, cpu.Cache)], [await device.Forward.DecodeAsync(5, device.Cache)], "after the copy");
    }

    /// <summary>A budget with room for the dense matrices and one sequence's cache: the sequence a step runs takes the
    /// room (the other's mirror is given up), the rows of a sequence that returns are copied up again from RAM, and a
/// sequence that is done gives the room back.</summary>
    [Fact]
    public async Task Sequences_take_turns_in_a_budget_for_one_cache()
    {
        using var f = Model();
        using var cpu = await ForwardPass.OpenAsync(f.Catalog, "m", Options);
        var oneCache = KvCacheBytes(f, 64, KvCacheType.F32);
        using var tier = await TierForAsync(f, oneCache + oneCache / 2);
        using var device = await ForwardPass.OpenAsync(f.Catalog, "m", Options, device: tier);
        Assert.Equal(device.Device!.Candidates, device.Device.Count); // every dense matrix resident, no room for two caches

        var (a, b, da, db) = (KvCache.For(cpu.Hyper, 64), KvCache.For(cpu.Hyper, 64), KvCache.For(cpu.Hyper, 64), KvCache.For(cpu.Hyper, 64));
        foreach (var (token, c, d) in new[] { (1, a, da), (2, b, db), (3, a, da), (4, b, db) })
        {
            var expected = (float[])(await cpu.DecodeAsync(token, c)).Clone();
            DeviceLogits.AssertClose([expected], [await device.DecodeAsync(token, d)], $"token {token}");
            Assert.Equal(1, device.Device.Kv.Count);
            Assert.Same(d, MirroredCache(da, db));
        }

        // A sequence that is done gives its cache's room back at once.
        var used = tier.UsedBytes;
        device.Release(db);
        Assert.Equal(0, device.Device.Kv.Count);
        Assert.Equal(used - oneCache, tier.UsedBytes);
        Assert.Null(db.Mirror);
    }

    private static KvCache? MirroredCache(params KvCache[] caches) => caches.SingleOrDefault(c => c.Mirror is not null);

    /// <summary>Dense matrices resident but no room for a cache: the device runs the products, the CPU attends.</summary>
    [Fact]
    public async Task Without_room_for_a_cache_the_cpu_attends()
    {
        using var f = Model();
        using var tier = await TierForAsync(f, KvCacheBytes(f, 64, KvCacheType.F32) / 2);
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 64);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", Options, contextLength: 64, device: tier);
        var tokens = ModelFixture.Tokens(3, f.Spec.Vocab);
        DeviceLogits.AssertClose(await cpu.LogitsAsync(tokens, allPositions: true), await device.LogitsAsync(tokens, allPositions: true), "prompt");
        Assert.Equal(0, device.Forward.Device!.Kv.Count);
        Assert.Null(device.Forward.Device.Failure);
    }
}
