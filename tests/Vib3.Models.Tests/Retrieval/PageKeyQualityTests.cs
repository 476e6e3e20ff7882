using System.Globalization;
using System.Numerics.Tensors;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Models.Tests.Shipped;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests;

namespace Vib3.Models.Tests.Retrieval;

/// <summary>Which page-key construction ranks bundles best. For the FFN inputs of a real forward pass (the trained
/// vib3-moe on documentation prose, and a synthetic model on random tokens), every bundle of a layer is ranked by its
/// true contribution |W_down[:, rows] · (silu(W_gate[rows]·x) ⊙ (W_up[rows]·x))| and by query·key; the figure is the
/// recall of the true top-N bundles within the key's top-N, N = top-k × bundles per expert (the pages exact routing
/// reads), averaged over tokens and layers. The router's own top-k experts (all their bundles) are the yardstick, and
/// N / pages is what a random pick scores.</summary>
public sealed class PageKeyQualityTests(ITestOutputHelper output)
{
    private const string Prose =
        "The Dictionary class provides a mapping from a set of keys to a set of values. Each addition to the dictionary " +
        "consists of a value and its associated key. Retrieving a value by using its key is very fast, because the class " +
        "is implemented as a hash table. The speed of retrieval depends on the quality of the hashing algorithm of the type " +
        "specified for the key. As long as an object is used as a key in the dictionary, it must not change in any way that " +
        "affects its hash value. Every key must be unique according to the equality comparer of the dictionary.";

    public static readonly (PageKeyKind Kind, PageKeyMetric Metric)[] Constructions =
    [
        (PageKeyKind.MeanGate, PageKeyMetric.InnerProduct), (PageKeyKind.MeanGate, PageKeyMetric.Cosine),
        (PageKeyKind.SvdGate, PageKeyMetric.InnerProduct), (PageKeyKind.SvdGate, PageKeyMetric.Cosine),
        (PageKeyKind.GateUp, PageKeyMetric.InnerProduct), (PageKeyKind.GateUp, PageKeyMetric.Cosine),
    ];

    [Fact]
    public async Task Page_keys_rank_bundles_better_than_chance_on_the_trained_model()
    {
        using var dir = new TempDir();
        var catalog = new ModelCatalog(Path.Combine(dir.Path, "data"));
        // 32 rows per bundle: 8 bundle pages per expert, 64 per layer (as shipped, an expert is one page).
        new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(ShippedModelFixture.CheckpointDir, "moe", null, 32));
        var recorder = new FfnInputRecorder(normalize: false);
        using var pass = await SequencePass.OpenAsync(catalog, "moe", new PageStoreOptions { RamBudgetBytes = 256 << 20 }, observer: recorder);
        var tokenizer = TokenizerLoader.Load(pass.Weights.TokenizerDir, pass.Weights.Manifest.Tokenizer);
        var tokens = tokenizer.Encode(Prose, tokenizer.AddBosByDefault);
        var figures = await MeasureAsync(pass, recorder, tokens, "vib3-moe (bf16, R=32)");
        var best = figures.Where(f => f.Key is not ("random" or "router top-k")).MaxBy(f => f.Value);
        Assert.True(best.Value > figures["random"] + 0.1, $"the best key ({best.Key}: {best.Value:0.000}) should beat chance clearly");
        // The default construction of CREATE INDEX is the best measured here (mean_gate).
        Assert.Equal("mean_gate", best.Key.Split('/')[0]);
    }

    [Fact]
    public async Task Page_keys_rank_bundles_on_a_synthetic_model()
    {
        var spec = ModelFixture.Small(ModelFamily.Mixtral, DType.F32) with { ExpertHidden = 128 };
        using var fixture = new ModelFixture(spec, "hf", null, 32);
        var recorder = new FfnInputRecorder(normalize: false);
        using var pass = await SequencePass.OpenAsync(fixture.Catalog, "m", new PageStoreOptions { RamBudgetBytes = 64 << 20 }, observer: recorder);
        var figures = await MeasureAsync(pass, recorder, ModelFixture.Tokens(48, spec.Vocab), "synthetic mixtral (f32, R=32)");
        Assert.True(figures.Where(f => f.Key != "random" && f.Key != "router top-k").Max(f => f.Value) > figures["random"]);
    }

    /// <summary>Recall@N per construction (and the router's and chance's), printed as a table.</summary>
    private async Task<Dictionary<string, double>> MeasureAsync(SequencePass pass, FfnInputRecorder recorder, IReadOnlyList<int> tokens,
        string title)
    {
        var w = pass.Weights;
        var grids = w.ExpertGrids.Values.OrderBy(g => g.Layer).ToArray();
        foreach (var t in tokens) await pass.Forward.DecodeAsync(t, pass.Cache);
        var inputs = recorder.Inputs; // per layer: [tokens][dim] FFN inputs

        var keys = new Dictionary<(PageKeyKind, int), float[]>();
        foreach (var kind in Constructions.Select(c => c.Kind).Distinct())
            foreach (var g in grids)
                keys[(kind, g.Layer)] = (await PageKeys.BuildLayerAsync(w, g, kind, PageKeyMetric.InnerProduct, default)).Keys;

        var h = w.Manifest.Hyper;
        var sums = new Dictionary<string, double>();
        var count = 0;
        foreach (var g in grids)
        {
            var bundles = await BundlesAsync(w, g);
            var router = await RouterAsync(w, g.Layer);
            var pages = g.Experts * g.BundlesPerExpert;
            var n = h.TopK * g.BundlesPerExpert;
            foreach (var x in inputs[g.Layer])
            {
                var magnitude = bundles.Select(b => b.Contribution(x)).ToArray();
                var truth = TopN(magnitude, n);
                // The same, weighted by the router's softmax of the bundle's expert: what the layer's output really
                // gets from the bundle under a dense mixture (a second, router-aware yardstick).
                var probs = Enumerable.Range(0, g.Experts).Select(e => TensorPrimitives.Dot(router.AsSpan(e * g.Dim, g.Dim), x)).ToArray();
                TensorPrimitives.SoftMax(probs, probs);
                var gatedTruth = TopN(magnitude.Select((m, i) => m * probs[i / g.BundlesPerExpert]).ToArray(), n);
                var q = x.ToArray();
                TensorPrimitives.Divide(q, TensorPrimitives.Norm(q), q);
                foreach (var (kind, metric) in Constructions)
                {
                    var k = keys[(kind, g.Layer)];
                    var scores = Enumerable.Range(0, pages).Select(i =>
                    {
                        var key = k.AsSpan(i * g.Dim, g.Dim);
                        var dot = TensorPrimitives.Dot(q, key);
                        return metric == PageKeyMetric.Cosine ? dot / Math.Max(TensorPrimitives.Norm(key), 1e-20f) : dot;
                    }).ToArray();
                    var found = TopN(scores, n);
                    Add($"{PageKeyLayer.KindName(kind)}/{PageKeyLayer.MetricName(metric)}", Recall(truth, found), Recall(gatedTruth, found));
                }
                var experts = TopN(probs, h.TopK);
                var routed = experts.SelectMany(e => Enumerable.Range(e * g.BundlesPerExpert, g.BundlesPerExpert)).ToHashSet();
                Add("router top-k", Recall(truth, routed), Recall(gatedTruth, routed));
                Add("random", (double)n / pages, (double)n / pages);
                count++;
            }
        }
        var result = sums.ToDictionary(kv => kv.Key, kv => kv.Value / count);
        output.WriteLine($"{title}: recall of the true top-N bundles within the retrieved top-N, {count} (token, layer) pairs, " +
                         $"N = {h.TopK} x {grids[0].BundlesPerExpert} of {grids[0].Experts * grids[0].BundlesPerExpert} pages " +
                         "(truth: |bundle output|; gated: |bundle output| x router softmax of its expert)");
        foreach (var (name, value) in result.Where(kv => !kv.Key.EndsWith(" gated", StringComparison.Ordinal)).OrderByDescending(kv => kv.Value))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-18} {value:0.000}   gated {result[name + " gated"]:0.000}"));
        return result.Where(kv => !kv.Key.EndsWith(" gated", StringComparison.Ordinal)).ToDictionary();

        void Add(string name, double value, double gated)
        {
            sums[name] = sums.GetValueOrDefault(name) + value;
            sums[name + " gated"] = sums.GetValueOrDefault(name + " gated") + gated;
        }
    }

    private static HashSet<int> TopN(float[] scores, int n) =>
        scores.Select((s, i) => (s, i)).OrderByDescending(x => x.s).ThenBy(x => x.i).Take(n).Select(x => x.i).ToHashSet();

    private static double Recall(HashSet<int> truth, HashSet<int> found) => (double)truth.Count(found.Contains) / truth.Count;

    /// <summary>A bundle's weights as f32: gate and up [r, dim], down [dim, r].</summary>
    private sealed record Bundle(float[] Gate, float[] Up, float[] Down, int R, int Dim)
    {
        public float Contribution(float[] x)
        {
            var hidden = new float[R];
            for (var i = 0; i < R; i++)
            {
                var g = TensorPrimitives.Dot(Gate.AsSpan(i * Dim, Dim), x);
                hidden[i] = g / (1 + MathF.Exp(-g)) * TensorPrimitives.Dot(Up.AsSpan(i * Dim, Dim), x);
            }
            var y = new float[Dim];
            for (var d = 0; d < Dim; d++) y[d] = TensorPrimitives.Dot(Down.AsSpan(d * R, R), hidden);
            return TensorPrimitives.Norm(y);
        }
    }

    private static async Task<Bundle[]> BundlesAsync(Vib3.Models.Weights.ModelWeights w, ExpertGridEntry g)
    {
        var type = DTypes.Parse(g.DType);
        var result = new Bundle[g.Experts * g.BundlesPerExpert];
        await w.StreamPagesAsync(g.FirstPage, result.Length, (i, page) =>
        {
            var r = g.RowsInBundle(i % g.BundlesPerExpert);
            var (gate, up, down) = (new float[r * g.Dim], new float[r * g.Dim], new float[g.Dim * r]);
            PageKeys.Dequantise(g, page, r, gate, up);
            DTypeConvert.ToF32(type, page[(2 * (int)type.ByteCount((long)r * g.Dim))..], down);
            result[i] = new Bundle(gate, up, down, r, g.Dim);
        });
        return result;
    }

    /// <summary>The router's weights [experts, dim] as f32.</summary>
    private static async Task<float[]> RouterAsync(Vib3.Models.Weights.ModelWeights w, int layer)
    {
        var t = w.Tensor($"blk.{layer}.ffn_gate_inp");
        var all = new float[t.Rows * t.Cols];
        await w.StreamAsync(t, (i, page) => t.ToF32Page(i, page, all));
        return all;
    }
}
