using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>A batched step computes all the chosen experts' bundle pages of a layer together, spread over the kernel
/// threads, and adds their outputs up afterwards in a fixed order: every row must get the same bits whether it runs
/// alone or among many, and whether the pages are in RAM or arrive one by one from disk.</summary>
public sealed class BatchedExpertsTests
{
    private static async Task<float[][]> StepAsync(ModelFixture f, int[] tokens, long budget, bool together)
    {
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = budget });
        var rows = tokens.Select(t => new StepRow(t, KvCache.For(pass.Forward.Hyper, 16), 0)).ToArray();
        // A step's logits are buffers the next step reuses: copied out.
        if (together) return [.. (await pass.Forward.StepAsync(rows, Enumerable.Range(0, rows.Length).ToArray())).Select(r => (float[])r.Clone())];
        var alone = new List<float[]>();
        foreach (var row in rows) alone.Add((float[])(await pass.Forward.StepAsync([row], [0]))[0].Clone());
        return [.. alone];
    }

    [Fact]
    public async Task Every_row_gets_the_bits_it_gets_alone_in_RAM_or_streamed_page_by_page()
    {
        // q8_0: its batched and single-row products are bit-identical; 8 experts of 3 bundle pages each.
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { Experts = 8 };
        using var f = new ModelFixture(spec, "hf", storeAs: DType.Q8_0, pageRows: 32);
        Assert.True(f.Manifest.ExpertGrids[0].BundlesPerExpert >= 3, "experts span several bundle pages");
        var tokens = ModelFixture.Tokens(24, spec.Vocab);
        var tight = PageStore.MinimumRamBudget(f.Manifest.MaxPageBytes) + f.Manifest.PageBytes / 3;

        var alone = await StepAsync(f, tokens, 64 << 20, together: false);
        var together = await StepAsync(f, tokens, 64 << 20, together: true);
        var streamed = await StepAsync(f, tokens, tight, together: true);
        for (var i = 0; i < tokens.Length; i++)
        {
            Assert.Equal(alone[i], together[i]);
            Assert.Equal(alone[i], streamed[i]);
        }
    }
}
