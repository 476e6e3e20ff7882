using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Models.Tests.Forward;

/// <summary>Pages of at most <see cref="ForwardPass.NarrowBundleRows"/> neurons take their down product as column sums
/// (not as a matrix-vector product of dim short rows): the logits of every page size, narrow ones with a partial last
/// page included, equal the wide pages' to float rounding, in f32 and bf16, whether each row runs alone (the
/// matrix-vector path) or all in one step (the batched one).</summary>
public sealed class NarrowPagesTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public async Task Narrow_pages_compute_what_wide_pages_compute(DType type)
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32);
        var tokens = ModelFixture.Tokens(12, spec.Vocab);
        var wide = await LogitsAsync(spec, type, 32, tokens, together: false);
        foreach (var rows in new[] { 1, 2, 4, 5 }) // 5: 96 neurons make 19 pages of 5 and one of 1
            foreach (var together in new[] { false, true })
            {
                var narrow = await LogitsAsync(spec, type, rows, tokens, together);
                for (var t = 0; t < tokens.Length; t++)
                {
                    var scale = wide[t].Max(Math.Abs);
                    for (var v = 0; v < wide[t].Length; v++)
                        Assert.True(Math.Abs(wide[t][v] - narrow[t][v]) <= 2e-5f * scale,
                            $"{rows} rows a page{(together ? ", batched" : "")}, row {t}, logit {v}: {narrow[t][v]} vs {wide[t][v]}");
                }
            }
    }

    /// <summary>Each token's logits from an empty cache at position 0: every row alone, or all in one step.</summary>
    private static async Task<float[][]> LogitsAsync(SyntheticModelSpec spec, DType type, int pageRows, int[] tokens, bool together)
    {
        using var f = new ModelFixture(spec, "hf", storeAs: type, pageRows: pageRows);
        using var pass = await SequencePass.OpenAsync(f.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 });
        var rows = tokens.Select(t => new StepRow(t, KvCache.For(pass.Forward.Hyper, 16), 0)).ToArray();
        if (together) return [.. (await pass.Forward.StepAsync(rows, Enumerable.Range(0, rows.Length).ToArray())).Select(r => (float[])r.Clone())];
        var alone = new List<float[]>();
        foreach (var row in rows) alone.Add((float[])(await pass.Forward.StepAsync([row], [0]))[0].Clone());
        return [.. alone];
    }
}
