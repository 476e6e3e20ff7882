using Vib3.Core;
using Vib3.Kernels.Gpu;
using Vib3.Models.Device;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>The VRAM expert cache (on ILGPU's CPU accelerator): where it places a step's pages — resident, uploaded, or
/// left to the CPU — and whole-model logits equal to the CPU path's with every expert in VRAM and with a cache that
/// holds only some.</summary>
public sealed class DeviceExpertsTests
{
    /// <summary>Eight experts of one bundle page each (f32, 64 wide, 32 rows: 24 KiB a page) from page 100.</summary>
    private static readonly ExpertGridEntry Grid = new()
    {
        Layer = 0, Experts = 8, ExpertHidden = 32, Dim = 64, BundleRows = 32, BundlesPerExpert = 1, FirstPage = 100, DType = "f32",
    };

    private static DeviceTier OpenTier(long budget) =>
        DeviceTier.Open(AcceleratorChoice.IlgpuCpu, budget, out var notice) ?? throw new InvalidOperationException($"no ILGPU CPU accelerator: {notice}");

    [Fact]
    public void The_cache_takes_what_the_budget_has_left_in_whole_slots_and_gives_it_back()
    {
        var slot = Grid.BundleBytes(32);
        using var tier = OpenTier(2 * slot + slot / 2);
        using (var cache = DeviceExperts.Open(tier, [Grid], maxRows: 4)!)
        {
            Assert.Equal(slot, cache.SlotBytes);
            Assert.Equal(2, cache.Slots);
            Assert.Equal(2 * slot, tier.UsedBytes);
        }
        Assert.Equal(0, tier.UsedBytes);
        Assert.True(tier.TryReserve(2 * slot));
        Assert.Null(DeviceExperts.Open(tier, [Grid], maxRows: 4)); // not one slot left
    }

    /// <summary>A cache of two slots (its tier's whole budget), filled in one step by pages 100 and 101 of one row each.</summary>
    private static (DeviceTier, DeviceExperts) TwoSlotsFilled()
    {
        var tier = OpenTier(2 * Grid.BundleBytes(32));
        var cache = DeviceExperts.Open(tier, [Grid], maxRows: 8)!;
        Assert.Equal(ExpertPlace.Upload, cache.Place(0, 100, 1));
        Assert.Equal(ExpertPlace.Upload, cache.Place(0, 101, 1));
        return (tier, cache);
    }

    [Fact]
    public void Pages_are_uploaded_while_slots_are_free_then_only_on_a_second_miss_or_for_many_rows()
    {
        var (tier, cache) = TwoSlotsFilled();
        using var _ = tier;
        using var __ = cache;
        cache.ReleaseInUse();
        Assert.Equal(ExpertPlace.Vram, cache.Place(0, 100, 1));
        Assert.Equal(ExpertPlace.Cpu, cache.Place(0, 102, 1));   // full: one row on a page missed for the first time stays on the CPU
        cache.ReleaseInUse();
        Assert.Equal(ExpertPlace.Upload, cache.Place(0, 102, 1)); // its second miss: it recurs, so it is uploaded
        Assert.Equal(ExpertPlace.Upload, cache.Place(0, 103, DeviceExperts.UploadRows)); // enough rows to pay for the upload
        cache.ReleaseInUse();
        Assert.Equal(new DeviceExpertCounts(Hits: 1, Uploads: 4, CpuPages: 1, Evictions: 2), cache.Counts);
        Assert.Equal(cache.Counts, cache.CountsOf(0)); // every page here is layer 0's
        Assert.Equal(default, cache.CountsOf(1));
        Assert.Equal(2, cache.Resident);
    }

    [Fact]
    public void A_page_the_running_step_uses_is_never_evicted()
    {
        var (tier, cache) = TwoSlotsFilled();
        using var _ = tier;
        using var __ = cache;
        // Same step: both slots are in use, so even a page many rows chose runs on the CPU.
        Assert.Equal(ExpertPlace.Cpu, cache.Place(0, 102, DeviceExperts.UploadRows));
        cache.ReleaseInUse();
        Assert.Equal(ExpertPlace.Upload, cache.Place(0, 102, DeviceExperts.UploadRows));
        Assert.Equal(1, cache.Counts.Evictions);
    }

    /// <summary>The smallest vocabulary the synthetic byte tokenizer allows, so the output matrix is few groups.</summary>
    private static SyntheticModelSpec Tiny() => ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Vocab = 260 };

    private static readonly PageStoreOptions Options = new() { RamBudgetBytes = 64 << 20 };

    /// <summary>Prefill of two tokens and two decode steps on the CPU and on <paramref name="tier"/>: the logits agree
    /// within 1e-4 · max |logit| with the same argmax. Returns the cache's counts.</summary>
    private static async Task<DeviceExpertCounts> AssertSameLogitsAsync(ModelFixture f, DeviceTier tier)
    {
        var tokens = ModelFixture.Tokens(2, f.Spec.Vocab);
        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", Options);
        using var device = await SequencePass.OpenAsync(f.Catalog, "m", Options, device: tier);
        var experts = device.Forward.Device!.Experts ?? throw new InvalidOperationException("no expert cache");
        DeviceLogits.AssertClose(await cpu.LogitsAsync(tokens, allPositions: true), await device.LogitsAsync(tokens, allPositions: true), "prefill");
        foreach (var token in new[] { 11, 57 })
            DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(token, cpu.Cache)], [await device.Forward.DecodeAsync(token, device.Cache)], $"decode {token}");
        Assert.Null(device.Forward.Device.Failure);
        return experts.Counts;
    }

    [Fact]
    public async Task With_every_expert_in_vram_the_logits_equal_the_cpu_s()
    {
        using var f = new ModelFixture(Tiny(), "hf");
        using var tier = OpenTier(256 << 20);
        var counts = await AssertSameLogitsAsync(f, tier);
        Assert.True(counts.Uploads > 0 && counts.Hits > 0, $"{counts}");
        Assert.Equal(0, counts.CpuPages);
        Assert.Equal(0, counts.Evictions);
    }

    /// <summary>The bytes of the model's dense matrices on the device and of one expert slot, from an open with room for all.</summary>
    private static async Task<(long Dense, long Slot)> SizesAsync(ModelFixture f)
    {
        using var probe = OpenTier(256 << 20);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", Options, device: probe);
        return (pass.Forward.Device!.Bytes, pass.Forward.Device.Experts!.SlotBytes);
    }

    [Fact]
    public async Task A_cache_of_two_pages_leaves_the_rest_to_the_cpu_with_the_same_logits()
    {
        using var f = new ModelFixture(Tiny(), "hf");
        var (dense, slot) = await SizesAsync(f);
        using var tier = OpenTier(dense + 2 * slot);
        var counts = await AssertSameLogitsAsync(f, tier);
        Assert.True(counts.CpuPages > 0, $"{counts}");
        Assert.True(counts.Uploads > 0, $"{counts}");
        Assert.Equal(0, tier.UsedBytes);
    }

    /// <summary>Dense matrices come first engine-wide: a model opened after another whose expert cache holds the rest of
    /// the budget takes chunks of that cache back for its own dense matrices, and both models' logits stay the CPU's.</summary>
    [Fact]
    public async Task A_model_opened_later_takes_room_back_from_an_expert_cache_for_its_dense_matrices()
    {
        using var f = new ModelFixture(Tiny(), "hf");
        var (dense, slot) = await SizesAsync(f);
        var slots = (int)((dense + slot - 1) / slot) + 2; // the second model's dense matrices and two slots more
        using var tier = OpenTier(dense + slots * slot);
        using var first = await SequencePass.OpenAsync(f.Catalog, "m", Options, device: tier);
        var cache = first.Forward.Device!.Experts!;
        Assert.Equal(slots, cache.Slots);
        Assert.Equal(tier.BudgetBytes, tier.UsedBytes);
        var tokens = ModelFixture.Tokens(2, f.Spec.Vocab);
        await first.LogitsAsync(tokens, allPositions: false); // fills some slots

        using var second = await SequencePass.OpenAsync(f.Catalog, "m", Options, device: tier);
        var device = second.Forward.Device!;
        Assert.Equal(device.Candidates, device.Count); // every dense matrix of the second model is resident
        Assert.InRange(cache.Slots, 1, slots - 1);      // the first model's cache gave chunks back, not all of them
        Assert.True(tier.UsedBytes <= tier.BudgetBytes);

        using var cpu = await SequencePass.OpenAsync(f.Catalog, "m", Options);
        var expected = await cpu.LogitsAsync(tokens, allPositions: true);
        DeviceLogits.AssertClose(expected, await second.LogitsAsync(tokens, allPositions: true), "the second model");
        DeviceLogits.AssertClose([await cpu.Forward.DecodeAsync(11, cpu.Cache)], [await first.Forward.DecodeAsync(11, first.Cache)], "the first model after");
        Assert.Null(first.Forward.Device.Failure);
    }
}
