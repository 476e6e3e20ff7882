using System.Diagnostics;
using System.Globalization;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.RetrievalStudy;

/// <summary>One routing to measure: exact (the router's top-k, <see cref="Routing"/> null), USING RETRIEVAL, or the
/// page oracle's ceiling inside the router's experts (<see cref="Oracle"/>: a measurement, no decode rate). Router-first
/// variants score with CREATE INDEX's default neuron keys unless <see cref="Keys"/> says otherwise; <see cref="RandomKeys"/>
/// replaces the keys (page keys, or neuron keys) with random ones.</summary>
internal sealed record Variant(string Family, RetrievalRouting? Routing, bool RandomKeys = false, PageOracle? Oracle = null, NeuronKeySpec? Keys = null)
{
    public NeuronKeySpec NeuronKeys => Keys ?? NeuronKeySpec.Default;

    public string Label => Oracle is { } o
        ? string.Create(CultureInfo.InvariantCulture, $"{(o.Random ? "random pages" : o.PinHot ? "oracle, hot pages pinned" : "oracle")}, keep {o.Keep:0%} of the router's pages")
        : (RandomKeys ? "random keys, " : "") + Routing switch
    {
        null => "exact (USING ROUTER)",
        { RouterFirst: true } r => string.Create(CultureInfo.InvariantCulture,
            $"router-first, {NeuronKeys.Name} keys, {(r.Budget > 0 ? $"budget={r.Budget:0.##}" : $"mass={r.Mass:0.##}")}"),
        { Candidates: > 0 } r => $"k={r.K}, top-{r.Candidates} expert{(r.Candidates > 1 ? "s'" : "'s")} pages",
        { Prior: > 0 } r => $"k={r.K}, key + {r.Prior.ToString(CultureInfo.InvariantCulture)}·ln p",
        var r => $"k={r.K}",
    };
}

/// <summary>A variant's figures against exact routing over the same teacher-forced tokens.</summary>
internal sealed record Row(
    Variant Variant, int PagesPerLayer, double ExpertKiBPerToken, double Agreement, double Kl, double Perplexity,
    double ExpertsTouched, double TokensPerSecond, string Sample);

internal sealed record StudyResult(string Title, int Tokens, int Windows, int Window, int Layers, int PagesPerLayer, int ExactPages, IReadOnlyList<Row> Rows);

/// <summary>Teacher-forced, through <c>vib3 perplexity</c>'s evaluation (<see cref="PerplexityEvaluation"/>): every
/// window of the stream runs from an empty cache with exact routing and with each variant; per position the next-token
/// distributions are compared (top-1 agreement, KL(exact ‖ variant)) and the target's log-likelihood summed.</summary>
internal static class Study
{
    public static async Task<StudyResult> RunAsync(StudyModel model, Func<int, int, IReadOnlyList<Variant>> variantsFor, int maxTokens, int genTokens, int runs, CancellationToken ct)
    {
        using var pass = await SequencePass.OpenAsync(model.Catalog, model.Name,
            new PageStoreOptions { RamBudgetBytes = 512L << 20 }, contextLength: null, ct);
        var w = pass.Weights;
        var keys = await PageKeys.BuildAsync(w, PageKeyKind.MeanGate, PageKeyMetric.InnerProduct, ct: ct); // CREATE INDEX's default
        var index = new PageIndex(keys, w.ExpertGrids, model.Name);
        var randomIndex = new PageIndex(RandomKeys(keys), w.ExpertGrids, model.Name);
        var neuronIndexes = new Dictionary<(NeuronKeySpec, bool Random), PageIndex>(); // router-first's, built when a variant needs them
        async Task<PageIndex> NeuronIndex(NeuronKeySpec spec, bool random)
        {
            if (neuronIndexes.TryGetValue((spec, random), out var built)) return built;
            var neurons = await NeuronKeys.BuildAsync(w, spec, ct);
            if (random) neurons = RandomNeuronKeys(neurons);
            return neuronIndexes[(spec, random)] = index.WithNeurons(neurons, w.ExpertGrids, model.Name);
        }

        var stream = model.Stream(pass);
        var windows = new List<int[]>();
        for (var start = 0; start + model.Window + 1 <= stream.Length && windows.Count * model.Window < maxTokens; start += model.Window)
            windows.Add(stream[start..(start + model.Window + 1)]);
        var tokens = windows.Count * model.Window;
        var h = w.Manifest.Hyper;
        var grids = w.ExpertGrids.Values.OrderBy(g => g.Layer).ToArray();
        var pagesPerLayer = grids[0].Experts * grids[0].BundlesPerExpert;
        var exactPages = h.TopK * grids[0].BundlesPerExpert;
        Console.Error.WriteLine($"{model.Title}: {windows.Count} windows x {model.Window} = {tokens} tokens, {grids.Length} MoE layers, " +
                                $"{pagesPerLayer} pages a layer, exact routing reads {exactPages}");

        var variants = variantsFor(exactPages, pagesPerLayer);
        ITextTokenizer? tokenizer = null;
        try { tokenizer = TokenizerLoader.Load(w.TokenizerDir, w.Manifest.Tokenizer); }
        catch (Vib3Exception) { }
        var prompt = windows[0][..16];

        var text = stream[..(windows.Count * model.Window + 1)]; // the windows' tokens: each window's last target is the next one's first input
        var exact = new ScoredRouting(ForwardProgram.Build(w.Manifest));
        var rows = new List<Row>();
        foreach (var v in variants)
        {
            var clock = Stopwatch.StartNew();
            pass.Forward.Routing.Reset();
            var reference = v.Routing is null && v.Oracle is null;
            var scored = v.Oracle is { } oracle ? new ScoredRouting(ForwardProgram.Build(w.Manifest, oracle: oracle))
                : v.Routing is null ? exact
                : v.Routing.RouterFirst ? new ScoredRouting(ForwardProgram.Build(w.Manifest, v.Routing), await NeuronIndex(v.NeuronKeys, v.RandomKeys))
                : new ScoredRouting(ForwardProgram.Build(w.Manifest, v.Routing), v.RandomKeys ? randomIndex : index);
            var variantIndex = scored.Index;
            // vib3 perplexity's evaluation: disjoint windows, each from an empty cache, against exact routing.
            var result = await PerplexityEvaluation.RunAsync(pass.Forward, text, model.Window, model.Window, scored, reference ? null : exact,
                KvCacheType.F32, ct);
            // The routing statistics count both runs' choices; exact routing touches top-k experts a row in each layer.
            var touched = Enumerable.Range(0, h.Layers).Where(l => w.ExpertGrids.ContainsKey(l))
                .Average(l => (double)pass.Forward.Routing.Decisions(l)) / tokens - (reference ? 0 : h.TopK);
            var pages = v.Routing switch
            {
                null when v.Oracle is { } o => (int)Math.Ceiling(o.Keep * exactPages - 1e-9),
                null => exactPages,
                { RouterFirst: true } => (int)Math.Round((result.ExpertBytesPerToken - grids.Length * h.TopK * grids[0].ExpertHidden *
                    NeuronKeyLayer.NeuronBytes(v.NeuronKeys.Type, v.NeuronKeys.Up, grids[0].Dim)) / grids[0].BundleBytes(grids[0].BundleRows) / grids.Length),
                { Candidates: > 0 } r => Math.Min(r.K, r.Candidates * grids[0].BundlesPerExpert),
                var r => Math.Min(r.K, pagesPerLayer),
            };
            var teacher = clock.Elapsed.TotalSeconds;
            var (tps, sample) = v.Oracle is null
                ? await GenerateAsync(pass, prompt, v.Routing, variantIndex, genTokens, runs, tokenizer, ct)
                : (double.NaN, "(the oracle computes every page of the router's experts: no decode rate, no generation)");
            var row = new Row(v, pages, result.ExpertBytesPerToken / 1024, result.Top1Agreement ?? 1, result.Kl ?? 0, result.Perplexity, touched, tps, sample);
            rows.Add(row);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {v.Label,-34} agree {row.Agreement:0.000}  KL {row.Kl:0.0000}  ppl {row.Perplexity:0.00}  {row.TokensPerSecond:0} tok/s  ({teacher:0.0} s)"));
        }
        return new StudyResult(model.Title, tokens, windows.Count, model.Window, grids.Length, pagesPerLayer, exactPages, rows);
    }

    /// <summary>Greedy decode of <paramref name="count"/> tokens after the prompt; the median tok/s of the generated
    /// steps (prompt excluded) over <paramref name="runs"/> runs, and the generated text.</summary>
    private static async Task<(double TokensPerSecond, string Text)> GenerateAsync(
        SequencePass pass, int[] prompt, RetrievalRouting? routing, PageIndex? index, int count, int runs, ITextTokenizer? tokenizer, CancellationToken ct)
    {
        var rates = new List<double>();
        var generated = new List<int>();
        for (var run = 0; run < runs; run++)
        {
            pass.Cache.Clear();
            generated.Clear();
            float[] logits = [];
            foreach (var token in prompt) logits = await pass.Forward.DecodeAsync(token, pass.Cache, routing, index, ct);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                var next = VectorOps.ArgMax(logits);
                generated.Add(next);
                logits = await pass.Forward.DecodeAsync(next, pass.Cache, routing, index, ct);
            }
            rates.Add(count / clock.Elapsed.TotalSeconds);
        }
        rates.Sort();
        var text = tokenizer is null ? string.Join(' ', generated.Take(16)) : tokenizer.Decode(generated);
        return (rates[rates.Count / 2], text);
    }

    /// <summary>The router-first control: every neuron's key row replaced by a random one of the same type (its weight
    /// kept), so what the keys predict owes nothing to the gate rows.</summary>
    private static List<NeuronKeyLayer> RandomNeuronKeys(IReadOnlyList<NeuronKeyLayer> keys)
    {
        var r = new Random(19);
        return keys.Select(k =>
        {
            byte[] Random(byte[] like)
            {
                if (like.Length == 0) return like;
                var rows = new float[k.Experts * k.Hidden * k.Dim];
                for (var i = 0; i < rows.Length; i++) rows[i] = (float)(r.NextDouble() * 2 - 1) * 0.05f;
                var bytes = new byte[like.Length];
                DTypeConvert.FromF32(k.KeyType, rows, bytes);
                return bytes;
            }
            return k with { Gate = Random(k.Gate), Up = Random(k.Up) };
        }).ToList();
    }

    /// <summary>The control: every key replaced by a random direction of the same norm (seeded), so a ranking that
    /// still works does not owe it to the keys.</summary>
    private static IReadOnlyList<PageKeyLayer> RandomKeys(IReadOnlyList<PageKeyLayer> keys)
    {
        var r = new Random(17);
        return keys.Select(k =>
        {
            var random = new float[k.Keys.Length];
            for (var p = 0; p < k.Pages; p++)
            {
                var row = random.AsSpan(p * k.Dims, k.Dims);
                for (var d = 0; d < k.Dims; d++) row[d] = (float)(r.NextDouble() * 2 - 1);
                var scale = System.Numerics.Tensors.TensorPrimitives.Norm(k.Keys.AsSpan(p * k.Dims, k.Dims)) /
                            System.Numerics.Tensors.TensorPrimitives.Norm(row);
                System.Numerics.Tensors.TensorPrimitives.Multiply(row, scale, row);
            }
            return new PageKeyLayer(k.Layer, k.Pages, k.Dims, k.Kind, k.Metric, random);
        }).ToList();
    }
}
