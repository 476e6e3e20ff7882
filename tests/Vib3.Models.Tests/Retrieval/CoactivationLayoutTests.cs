using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>The co-activation neuron layout (vib3 convert --page-layout coact): the clustering worked by hand; a
/// converted model whose pages are the as-trained pages moved between places (single-neuron pages byte for byte) and
/// which computes the same logits; the calibration's record in the manifest; clean refusals.</summary>
public sealed class CoactivationLayoutTests
{
    private static readonly PageStoreOptions Options = new() { RamBudgetBytes = 64 << 20 };

    [Fact]
    public void Clustering_puts_neurons_needed_together_in_one_page_and_the_always_needed_first()
    {
        // Six neurons over eight tokens, pages of two. 0 and 3 are needed for every token (hot at 0.9); 1 and 4 for the
        // first five tokens, 2 and 5 for the last three; 4 is also needed for token 7. Trained order would pair 0-1, 2-3, 4-5.
        int[][] neededAt = [[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4], [5, 6, 7], [0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 7], [5, 6, 7]];
        var columns = neededAt.Select(tokens => new[] { tokens.Aggregate(0UL, (bits, t) => bits | 1UL << t) }).ToArray();

        var (order, hot) = CoactivationCalibration.Cluster((columns, 8), pageRows: 2, hotShare: 0.9);

        Assert.Equal(1, hot);
        Assert.Equal([0, 3, 4, 1, 2, 5], order); // the hot page; then 4 (needed 6 times) seeds and takes 1; then 2 and 5
        // Nothing reached the expert: the trained order, no hot page.
        var (unreached, none) = CoactivationCalibration.Cluster((neededAt.Select(_ => Array.Empty<ulong>()).ToArray(), 0), 2, 0.9);
        Assert.Equal([0, 1, 2, 3, 4, 5], unreached);
        Assert.Equal(0, none);
    }

    [Fact]
    public async Task The_layout_moves_whole_neurons_and_keeps_the_logits()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf", pageRows: 1);
        var text = Path.Combine(f.Dir, "calibration.txt");
        await File.WriteAllTextAsync(text, string.Join(' ', Enumerable.Range(0, 400).Select(i => $"word{i * 7919 % 1000} and more")));

        var coact = await CoactivationLayout.ConvertAsync(f.Catalog, DescriptorCatalog.LoadDefault(), new ConversionRequest(f.SourcePath, "coact", PageRows: 1),
            new CalibrationOptions(text, MaxTokens: 600, Context: 64, HotShare: 0.6));

        Assert.Equal("coact", coact.NeuronLayout!.Kind);
        Assert.Equal(Path.GetFullPath(text), coact.NeuronLayout.CalibrationFile);
        Assert.True(coact.NeuronLayout.CalibrationTokens >= 64, $"{coact.NeuronLayout.CalibrationTokens} calibration tokens");
        Assert.All(coact.ExpertGrids, g => Assert.Equal(f.Spec.Experts, g.HotBundles!.Length));
        Assert.Null(f.Manifest.NeuronLayout);

        // Every single-neuron page of an expert is one of the same expert's as-trained pages, each used once, and the
        // order is not the trained one.
        using var trained = StoredModel.Open(f.Catalog, "m", Options);
        using var laidOut = StoredModel.Open(f.Catalog, "coact", Options);
        var moved = 0;
        foreach (var g in f.Manifest.ExpertGrids)
            for (var e = 0; e < g.Experts; e++)
            {
                var asTrained = Enumerable.Range(0, g.BundlesPerExpert).Select(b => System.Convert.ToHexString(Read(trained, g.PageOf(e, b)))).ToList();
                var used = new bool[asTrained.Count];
                for (var b = 0; b < g.BundlesPerExpert; b++)
                {
                    var from = asTrained.IndexOf(System.Convert.ToHexString(Read(laidOut, coact.ExpertGrids.Single(x => x.Layer == g.Layer).PageOf(e, b))));
                    Assert.True(from >= 0 && !used[from], $"layer {g.Layer} expert {e} page {b}: not an unused as-trained page");
                    used[from] = true;
                    if (from != b) moved++;
                }
            }
        Assert.True(moved > 0, "the layout left every neuron where it was");

        var tokens = ModelFixture.Tokens(40, f.Spec.Vocab);
        var a = await LogitsAsync(f.Catalog, "m", tokens);
        var b2 = await LogitsAsync(f.Catalog, "coact", tokens);
        for (var t = 0; t < a.Length; t++)
        {
            var scale = a[t].Max(Math.Abs);
            for (var v = 0; v < a[t].Length; v++) Assert.True(Math.Abs(a[t][v] - b2[t][v]) <= 1e-5f * scale, $"token {t} logit {v}: {a[t][v]} vs {b2[t][v]}");
        }
    }

    [Fact]
    public async Task Missing_or_empty_calibration_text_and_block_quantised_down_matrices_are_refused()
    {
        using var f = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var descriptors = DescriptorCatalog.LoadDefault();
        var request = new ConversionRequest(f.SourcePath, "coact");
        var missing = Path.Combine(f.Dir, "nothing.txt");
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => CoactivationLayout.ConvertAsync(f.Catalog, descriptors, request, new CalibrationOptions(missing)));
        Assert.Equal($"{missing}: no such calibration file", e.Message);
        var empty = Path.Combine(f.Dir, "empty.txt");
        await File.WriteAllTextAsync(empty, " \n");
        e = await Assert.ThrowsAsync<Vib3Exception>(() => CoactivationLayout.ConvertAsync(f.Catalog, descriptors, request, new CalibrationOptions(empty)));
        Assert.Equal($"{empty}: the calibration text is empty", e.Message);
        Assert.False(f.Catalog.Exists("coact"));

        using var q8 = new ModelFixture(ModelFixture.Small(ModelFamily.Mixtral, DType.Q8_0), "gguf");
        var text = Path.Combine(q8.Dir, "calibration.txt");
        await File.WriteAllTextAsync(text, "some text");
        e = await Assert.ThrowsAsync<Vib3Exception>(() =>
            CoactivationLayout.ConvertAsync(q8.Catalog, descriptors, new ConversionRequest(q8.SourcePath, "coact"), new CalibrationOptions(text)));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("their down matrices are q8_0 in the source, whose blocks cannot be split into single columns", e.Message);
        Assert.False(q8.Catalog.Exists("coact"));
    }

    private static byte[] Read(StoredModel model, int page)
    {
        byte[]? bytes = null;
        model.Store.ReadManyAsync([page], (_, b) =>
        {
            bytes = model.StoredBytes(page, b.Span).ToArray();
            return ValueTask.CompletedTask;
        }).GetAwaiter().GetResult();
        return bytes!;
    }

    private static async Task<float[][]> LogitsAsync(ModelCatalog catalog, string model, int[] tokens)
    {
        using var pass = await SequencePass.OpenAsync(catalog, model, Options);
        var result = new List<float[]>();
        foreach (var t in tokens) result.Add((await pass.Forward.DecodeAsync(t, pass.Cache)).ToArray());
        return [.. result];
    }
}
