using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Architectures;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>One token through the model, top to bottom: embedding → per layer (attention, routed experts) →
/// final norm → logits. One caller at a time: activations live in the instance (a second concurrent call is refused). Every matrix is streamed page by page from the store; each routed expert contributes
/// bundle by bundle: y += g_e · W_down[:, rows] · (silu(W_gate[rows]·x) ⊙ (W_up[rows]·x)).</summary>
public sealed partial class ForwardPass
{
    private readonly ModelWeights _w;
    private readonly HyperParameters _h;
    private readonly BlockRecipe _recipe;
    private readonly LayerWeights[] _layers;
    private readonly DenseWeight _embedding;  // [vocab, dim]
    private readonly DenseWeight _output;     // [vocab, dim] (the embedding when tied)
    private readonly float[] _outputNorm;     // [dim]
    private readonly DecodeBuffers _b;
    private readonly IForwardObserver? _observer;
    private float[]? _routerScratch;  // GroupedRouter's scratch, [ScratchLength(experts, groups)]
    private int _busy;

    private ForwardPass(ModelWeights w, LayerWeights[] layers, float[] outputNorm, IForwardObserver? observer)
    {
        _observer = observer;
        _w = w;
        _h = w.Manifest.Hyper;
        _recipe = Families.Recipe(w.Manifest);
        _layers = layers;
        _embedding = w.Tensor("token_embd");
        _output = w.TryTensor("output") ?? _embedding;
        _outputNorm = outputNorm;
        _b = new DecodeBuffers(_h, w.Manifest.ExpertGrids.Max(g => g.BundleRows));
        Routing = new RoutingStats(_h.Layers, _h.Experts);
    }

    /// <summary>Which experts the router chose, per layer, since the pass was created (or last reset).</summary>
    public RoutingStats Routing { get; }

    public HyperParameters Hyper => _h;

    /// <param name="observer">Sees the hidden states as they are computed (measurements); null for none.</param>
    public static async ValueTask<ForwardPass> CreateAsync(ModelWeights w, CancellationToken ct = default, IForwardObserver? observer = null)
    {
        Families.Recipe(w.Manifest); // refuse unknown families before reading anything
        var layers = new LayerWeights[w.Manifest.Hyper.Layers];
        for (var l = 0; l < layers.Length; l++) layers[l] = await LayerWeights.LoadAsync(w, l, ct).ConfigureAwait(false);
        var norm = await LayerWeights.ReadF32Async(w, w.Tensor("output_norm"), ct).ConfigureAwait(false);
        return new ForwardPass(w, layers, norm, observer);
    }

    /// <summary>Runs <paramref name="token"/> at the cache's next position; returns the logits [vocab]
    /// (a buffer reused by the next call).</summary>
    public ValueTask<float[]> DecodeAsync(int token, KvCache cache, CancellationToken ct = default) => DecodeCoreAsync(token, cache, null, ct);

    /// <param name="rowRouting">A sequence's own routing statistics, recorded too (a batched step of one row).</param>
    private async ValueTask<float[]> DecodeCoreAsync(int token, KvCache cache, Retrieval.RetrievalRouting? retrieval, CancellationToken ct,
        RoutingStats? rowRouting = null)
    {
        if ((uint)token >= (uint)_h.Vocab)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"token id {token} is outside the vocabulary (0..{_h.Vocab - 1})");
        cache.CheckRoom(1);
        using var _ = Enter();
        var pos = cache.Length;
        var b = _b;

        await EmbedAsync(token, b.X, ct).ConfigureAwait(false);
        BatchRow[]? latentRow = _recipe.LatentAttention ? [new BatchRow(token, cache, pos)] : null;
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            Normalize(layer.AttnNorm);
            if (latentRow is not null) await LatentAttentionAsync(layer, l, latentRow, b.Xb, b.Xb2, ct).ConfigureAwait(false);
            else await AttentionAsync(layer, l, pos, cache, ct).ConfigureAwait(false);
            VectorOps.Add(b.Xb2, b.X);
            await PrefetchNextExpertsAsync(l, b.X, 1, [retrieval], ct).ConfigureAwait(false);

            Normalize(layer.FfnNorm);
            _observer?.FfnInput(l, b.Xb);
            if (layer.Experts is null) await DenseFfnAsync(layer, ct).ConfigureAwait(false);
            else await MixtureOfExpertsAsync(layer, layer.Experts, retrieval, rowRouting, ct).ConfigureAwait(false);
            VectorOps.Add(b.Moe, b.X);
        }
        cache.Length = pos + 1;

        Normalize(_outputNorm);
        await MatVecAsync(_output, b.XbInput, b.Logits, ct).ConfigureAwait(false);
        CheckFinite(b.Logits);
        return b.Logits;
    }

    /// <summary>Xb = RmsNorm(X) · weight, and the same vector as the input the sub-block's matrices multiply (quantised
    /// once for all of them).</summary>
    private void Normalize(float[] weight)
    {
        RmsNorm.Compute(_b.X, weight, (float)_h.NormEps, _b.Xb);
        _b.XbInput.Set(_b.Xb);
    }

    /// <summary>Marks the pass busy; a second caller gets a clear error instead of silently mixed activations.</summary>
    private Occupancy Enter()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("this model session is already running a forward pass (one caller at a time)");
        return new Occupancy(this);
    }

    private readonly struct Occupancy(ForwardPass pass) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref pass._busy, 0);
    }

    /// <summary>A NaN or infinity in the logits means broken weights or an overflow: report it rather than sample garbage.</summary>
    private void CheckFinite(ReadOnlySpan<float> logits)
    {
        foreach (var v in logits)
            if (!float.IsFinite(v))
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{_w.Manifest.Name}' produced a non-finite logit ({v}); its weights may be corrupt or overflow in {_w.Manifest.DType}");
    }

    private ValueTask EmbedAsync(int token, float[] x, CancellationToken ct) =>
        _w.StreamPagesAsync(_embedding.PageOfRow(token), 1, (_, page) => _embedding.Row(page, token, x), ct);

    /// <summary>Xb → q, k, v → (q/k norm) → RoPE → cache → causal attention → output projection into Xb2.</summary>
    private async ValueTask AttentionAsync(LayerWeights layer, int l, int pos, KvCache cache, CancellationToken ct)
    {
        var b = _b;
        await MatVecAsync(layer.Q!, b.XbInput, b.Q, ct).ConfigureAwait(false);
        await MatVecAsync(layer.K!, b.XbInput, b.K, ct).ConfigureAwait(false);
        await MatVecAsync(layer.V!, b.XbInput, b.V, ct).ConfigureAwait(false);
        PositionQueryAndKey(layer, b.Q, b.K, b.V, pos);
        cache.Write(l, pos, b.K, b.V);
        cache.Attend(l, pos + 1, b.Q, _h.Heads, _h.KvHeads, _h.HeadDim, b.Att, b.AttScratch(_h.Heads, pos + 1));
        await MatVecAsync(layer.O, b.Att, b.Xb2, ct).ConfigureAwait(false);
    }

    /// <summary>Biases, q/k normalisation and RoPE on one position's fresh q [heads·headDim], k and v [kvHeads·headDim].</summary>
    private void PositionQueryAndKey(LayerWeights layer, Span<float> q, Span<float> k, Span<float> v, int pos)
    {
        var eps = (float)_h.NormEps;
        var hd = _h.HeadDim;
        if (layer.QBias is not null) VectorOps.Add(layer.QBias, q);
        if (layer.KBias is not null) VectorOps.Add(layer.KBias, k);
        if (layer.VBias is not null) VectorOps.Add(layer.VBias, v);
        switch (_recipe.QkNorm)
        {
            case QkNorm.PerHead:
                for (var h = 0; h < _h.Heads; h++) RmsNorm.Compute(q.Slice(h * hd, hd), layer.QNorm, eps, q.Slice(h * hd, hd));
                for (var h = 0; h < _h.KvHeads; h++) RmsNorm.Compute(k.Slice(h * hd, hd), layer.KNorm, eps, k.Slice(h * hd, hd));
                break;
            case QkNorm.Full:
                RmsNorm.Compute(q, layer.QNorm, eps, q);
                RmsNorm.Compute(k, layer.KNorm, eps, k);
                break;
        }
        var theta = (float)_h.RopeTheta;
        if (_recipe.InterleavedRope)
        {
            Rope.Normal(q, _h.Heads, hd, pos, theta);
            Rope.Normal(k, _h.KvHeads, hd, pos, theta);
        }
        else
        {
            Rope.Neox(q, _h.Heads, hd, pos, theta);
            Rope.Neox(k, _h.KvHeads, hd, pos, theta);
        }
    }

    /// <summary>Xb → router → top-k experts → Σ weight · expert(Xb) (+ shared expert) into Moe.</summary>
    private async ValueTask MixtureOfExpertsAsync(LayerWeights layer, ExpertGridEntry grid, Retrieval.RetrievalRouting? retrieval,
        RoutingStats? rowRouting, CancellationToken ct)
    {
        var b = _b;
        await MatVecAsync(layer.Router!, b.XbInput, b.RouterLogits, ct).ConfigureAwait(false);
        if (retrieval is not null)
        {
            Softmax.InPlace(b.RouterLogits);
            await RetrievedExpertsAsync(layer, retrieval, ct).ConfigureAwait(false);
            if (_recipe.SharedExpert) await SharedExpertAsync(layer, ct).ConfigureAwait(false);
            return;
        }
        Route(layer, b.RouterLogits, b.TopExperts, b.TopWeights);

        Routing.Record(grid.Layer, b.TopExperts, b.TopWeights);
        rowRouting?.Record(grid.Layer, b.TopExperts, b.TopWeights);
        ScorePrediction(grid.Layer, 0, b.TopExperts);
        // Every chosen bundle page is requested at once and computed as it arrives (a bundle's contribution does not
        // depend on the others); each lands in its own slot, summed in (expert, bundle) order so the result never
        // depends on which read finished first.
        var bundles = grid.BundlesPerExpert;
        var pages = new int[_h.TopK * bundles];
        for (var i = 0; i < pages.Length; i++) pages[i] = grid.PageOf(b.TopExperts[i / bundles], i % bundles);
        var slots = b.BundleSlots(pages.Length);
        await ExpertBundlesAsync(grid, pages, j => j % bundles, slots, ct).ConfigureAwait(false);
        Array.Clear(b.Moe);
        for (var j = 0; j < pages.Length; j++) VectorOps.AddScaled(slots[j].Output, b.TopWeights[j / bundles], b.Moe);
        if (_recipe.SharedExpert) await SharedExpertAsync(layer, ct).ConfigureAwait(false);
    }

    /// <summary>One token's router logits [experts] → its k experts and their weights, as the family routes: softmax,
    /// top-k, optionally renormalised; or <see cref="GroupedRouter"/> (sigmoid scores, selection-only bias, expert
    /// groups, scaled weights). The logits are overwritten.</summary>
    private void Route(LayerWeights layer, Span<float> logits, Span<int> top, Span<float> weights)
    {
        if (_recipe.GroupedRouting)
        {
            var scratch = _routerScratch ??= new float[GroupedRouter.ScratchLength(_h.Experts, _h.ExpertGroups)];
            var gating = _h.ExpertGating == "sigmoid" ? ExpertGating.Sigmoid : ExpertGating.Softmax;
            GroupedRouter.Route(logits, layer.RouterBias, gating, _h.ExpertGroups, _h.ExpertGroupsUsed, _h.TopK, _h.NormTopKProb,
                (float)_h.ExpertWeightsScale, top, weights, scratch);
            return;
        }
        Softmax.InPlace(logits);
        TopK.Select(logits, _h.TopK, top, weights);
        if (!_recipe.RenormalizeTopK) return;
        var sum = 0f;
        foreach (var v in weights) sum += v;
        VectorOps.Scale(weights, 1f / sum);
    }

    /// <summary>Computes the bundle pages <paramref name="pages"/> (absolute page ids; bundle j is bundle
    /// <paramref name="bundleOf"/>(j) of its expert) into their slots. Pages already in RAM arrive together and are
    /// spread over the kernel threads a whole bundle each: one dispatch per layer instead of two matvecs per bundle,
    /// each thread streaming whole pages. A page that arrives alone (a disk read landing) is computed at once on all
    /// threads. The bits are the same either way: a row's dot product does not depend on which thread runs it.</summary>
    private ValueTask ExpertBundlesAsync(ExpertGridEntry grid, IReadOnlyList<int> pages, Func<int, int> bundleOf, IReadOnlyList<BundleSlot> slots,
        CancellationToken ct)
    {
        _b.XbInput.Quantize(grid.GateUpType()); // made here, once, not by whichever thread gets there first
        return _w.StreamPagesUnorderedAsync(pages, ModelWeights.UnorderedInFlight, (indices, memories) =>
            KernelThreads.ParallelFor(indices.Count, i => ExpertBundle(grid, bundleOf(indices[i]), memories[i].Span, slots[indices[i]])), ct);
    }

    /// <summary>slot.Output = W_down[:, rows] · (silu(W_gate[rows]·Xb) ⊙ (W_up[rows]·Xb)) for one bundle page:
    /// [r, dim] gate rows then [r, dim] up rows (one [2r, dim] product), then the [dim, r] down slice.</summary>
    private void ExpertBundle(ExpertGridEntry grid, int bundle, ReadOnlySpan<byte> page, BundleSlot slot)
    {
        var r = grid.RowsInBundle(bundle);
        var type = grid.GateUpType();
        var rowsBytes = (int)type.ByteCount((long)r * grid.Dim);
        var gateUp = slot.GateUp.AsSpan(0, 2 * r);
        var hidden = slot.Hidden.AsSpan(0, r);
        var layouts = _w.ExpertLayouts(grid);
        MatVec.Compute(type, layouts.GateUp, page[..(2 * rowsBytes)], 2 * r, grid.Dim, _b.XbInput, gateUp);
        SwiGlu.Compute(gateUp[..r], gateUp[r..], hidden);
        MatVec.Compute(grid.DownType(), layouts.Down, page[(2 * rowsBytes)..], grid.Dim, r, hidden, slot.Output);
    }

    /// <summary>Moe += gate · down(silu(gate·Xb) ⊙ up·Xb): gate = sigmoid(w_shared · Xb) (Qwen2-MoE), or 1 when the
    /// shared expert has no gate (deepseek2).</summary>
    private async ValueTask SharedExpertAsync(LayerWeights layer, CancellationToken ct)
    {
        var b = _b;
        await SwiGluFfnAsync(layer.SharedGate!, layer.SharedUp!, layer.SharedDown!, ct).ConfigureAwait(false);
        var gate = layer.SharedRouter is { } w ? 1f / (1f + MathF.Exp(-VectorOps.Dot(w, b.Xb))) : 1f;
        VectorOps.AddScaled(b.Down, gate, b.Moe);
    }

    /// <summary>Moe = down(silu(gate·Xb) ⊙ up·Xb): the FFN of a leading dense layer.</summary>
    private async ValueTask DenseFfnAsync(LayerWeights layer, CancellationToken ct)
    {
        await SwiGluFfnAsync(layer.FfnGate!, layer.FfnUp!, layer.FfnDown!, ct).ConfigureAwait(false);
        _b.Down.CopyTo(_b.Moe, 0);
    }

    /// <summary>Down = down · (silu(gate · Xb) ⊙ (up · Xb)).</summary>
    private async ValueTask SwiGluFfnAsync(DenseWeight gate, DenseWeight up, DenseWeight down, CancellationToken ct)
    {
        var b = _b;
        var n = gate.Rows;
        await MatVecAsync(gate, b.XbInput, b.Gate, ct).ConfigureAwait(false);
        await MatVecAsync(up, b.XbInput, b.Up, ct).ConfigureAwait(false);
        SwiGlu.Compute(b.Gate.AsSpan(0, n), b.Up.AsSpan(0, n), b.Hidden.AsSpan(0, n));
        await MatVecAsync(down, b.Hidden, b.Down, ct).ConfigureAwait(false);
    }

    /// <summary>y = w · x[..w.Cols], through <see cref="DecodeBuffers.Input"/> (x quantised once for all of w's pages).</summary>
    private ValueTask MatVecAsync(DenseWeight w, float[] x, float[] y, CancellationToken ct)
    {
        var input = _b.Input(w.Cols);
        input.Set(x.AsSpan(0, w.Cols));
        return MatVecAsync(w, input, y, ct);
    }

    /// <summary>y = w · x. A tensor of several pages: every page whose read has completed is computed in one job over
    /// the kernel threads (all of them at once for a tensor in RAM), the rest as they land.</summary>
    private ValueTask MatVecAsync(DenseWeight w, MatVecInput x, float[] y, CancellationToken ct) =>
        w.PageCount == 1
            ? _w.StreamAsync(w, (i, page) => w.MatVecPage(i, page, x, y), ct)
            : _w.StreamPagesUnorderedAsync(w.PageIds, ModelWeights.UnorderedInFlight, (indices, pages) => w.MatVecPages(indices, pages, x, y), ct);
}
