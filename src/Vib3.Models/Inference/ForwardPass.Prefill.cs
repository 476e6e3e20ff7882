using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>Prefill: a batch of tokens through the model at once. Every weight page is read once per batch and
/// multiplied against all the batch's rows (matrix-matrix), and each routed expert runs on just the tokens that
/// chose it. Same blocks, same order as <see cref="DecodeAsync"/>; only the shapes gain a leading n.</summary>
public sealed partial class ForwardPass
{
    /// <summary>Tokens per prefill batch: long prompts go through in chunks of this many.</summary>
    public const int PrefillBatch = 64;

    private PrefillBuffers? _p;

    /// <summary>Feeds <paramref name="tokens"/> at the cache's next positions; returns the logits of every
    /// position, or of the last only.</summary>
    public async ValueTask<float[][]> PrefillAsync(IReadOnlyList<int> tokens, KvCache cache, bool allPositions, CancellationToken ct = default)
    {
        if (cache.Length + tokens.Count > cache.Capacity)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"the prompt is {tokens.Count} tokens but only {cache.Capacity - cache.Length} of the context's {cache.Capacity} are free " +
                "(a longer context: --context, up to the model's)");
        foreach (var t in tokens)
            if ((uint)t >= (uint)_h.Vocab)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"token id {t} is outside the vocabulary (0..{_h.Vocab - 1})");
        using var _ = Enter();
        var result = new List<float[]>();
        var before = cache.Length;
        try
        {
            for (var start = 0; start < tokens.Count; start += PrefillBatch)
            {
                var n = Math.Min(PrefillBatch, tokens.Count - start);
                var last = start + n == tokens.Count;
                await BatchAsync(tokens, start, n, cache, ct).ConfigureAwait(false);
                if (allPositions || last) result.AddRange(await BatchLogitsAsync(n, allPositions, ct).ConfigureAwait(false));
            }
        }
        catch
        {
            cache.Length = before; // all or nothing: a cancelled or failed prompt leaves the cache as it was
            throw;
        }
        foreach (var row in result) CheckFinite(row);
        return [.. result];
    }

    private async ValueTask BatchAsync(IReadOnlyList<int> tokens, int start, int n, KvCache cache, CancellationToken ct)
    {
        var p = _p ??= new PrefillBuffers(_h, PrefillBatch, _b.Gate.Length, _w.Manifest.Tensors.Max(t => t.RowsPerPage));
        var dim = _h.Dim;
        var pos = cache.Length;
        for (var i = 0; i < n; i++)
        {
            var token = tokens[start + i];
            var row = p.X.AsMemory(i * dim, dim);
            await _w.StreamPagesAsync(_embedding.PageOfRow(token), 1, (_, page) => _embedding.Row(page, token, row.Span), ct).ConfigureAwait(false);
        }
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            NormRows(p.X, layer.AttnNorm, p.Xb, n);
            await BatchAttentionAsync(layer, l, pos, n, cache, ct).ConfigureAwait(false);
            VectorOps.Add(p.O.AsSpan(0, n * dim), p.X.AsSpan(0, n * dim));

            NormRows(p.X, layer.FfnNorm, p.Xb, n);
            await BatchMixtureOfExpertsAsync(layer, n, ct).ConfigureAwait(false);
            VectorOps.Add(p.Moe.AsSpan(0, n * dim), p.X.AsSpan(0, n * dim));
        }
        cache.Length = pos + n;
    }

    private async ValueTask BatchAttentionAsync(LayerWeights layer, int l, int pos, int n, KvCache cache, CancellationToken ct)
    {
        var p = _p!;
        var qDim = _h.Heads * _h.HeadDim;
        var kvDim = _h.KvHeads * _h.HeadDim;
        await MatMulAsync(layer.Q, p.Xb, n, p.Q, ct).ConfigureAwait(false);
        await MatMulAsync(layer.K, p.Xb, n, p.K, ct).ConfigureAwait(false);
        await MatMulAsync(layer.V, p.Xb, n, p.V, ct).ConfigureAwait(false);
        for (var i = 0; i < n; i++)
        {
            PositionQueryAndKey(layer, p.Q.AsSpan(i * qDim, qDim), p.K.AsSpan(i * kvDim, kvDim), p.V.AsSpan(i * kvDim, kvDim), pos + i);
            cache.Write(l, pos + i, p.K.AsSpan(i * kvDim, kvDim), p.V.AsSpan(i * kvDim, kvDim));
        }
        for (var i = 0; i < n; i++)
        {
            var seen = pos + i + 1; // causal: token i attends to positions [0, pos + i]
            cache.Attend(l, seen, p.Q.AsSpan(i * qDim, qDim), _h.Heads, _h.KvHeads, _h.HeadDim, p.Att.AsSpan(i * qDim, qDim), _b.AttScratch);
        }
        await MatMulAsync(layer.O, p.Att, n, p.O, ct).ConfigureAwait(false);
    }

    /// <summary>Routes every token, then runs each chosen expert once on the rows of the tokens that chose it.</summary>
    private async ValueTask BatchMixtureOfExpertsAsync(LayerWeights layer, int n, CancellationToken ct)
    {
        var p = _p!;
        var (k, experts, dim) = (_h.TopK, _h.Experts, _h.Dim);
        await MatMulAsync(layer.Router, p.Xb, n, p.RouterLogits, ct).ConfigureAwait(false);
        var chosen = new List<(int Token, float Weight)>[experts];
        for (var i = 0; i < n; i++)
        {
            var probs = p.RouterLogits.AsSpan(i * experts, experts);
            Softmax.InPlace(probs);
            var top = p.TopExperts.AsSpan(i * k, k);
            var weights = p.TopWeights.AsSpan(i * k, k);
            TopK.Select(probs, k, top, weights);
            if (_recipe.RenormalizeTopK)
            {
                var sum = 0f;
                foreach (var v in weights) sum += v;
                VectorOps.Scale(weights, 1f / sum);
            }
            Routing.Record(layer.Experts.Layer, top, weights);
            for (var j = 0; j < k; j++) (chosen[top[j]] ??= []).Add((i, weights[j]));
        }

        Array.Clear(p.Moe, 0, n * dim);
        var grid = layer.Experts;
        for (var e = 0; e < experts; e++)
        {
            if (chosen[e] is not { } rows) continue;
            for (var j = 0; j < rows.Count; j++) p.Xb.AsSpan(rows[j].Token * dim, dim).CopyTo(p.Gathered.AsSpan(j * dim, dim));
            await _w.StreamPagesAsync(grid.PageOf(e, 0), grid.BundlesPerExpert,
                (bundle, page) => BatchExpertBundle(grid, bundle, page, rows), ct).ConfigureAwait(false);
        }
        if (_recipe.SharedExpert) await BatchSharedExpertAsync(layer, n, ct).ConfigureAwait(false);
    }

    /// <summary>For the m gathered tokens: Moe[token] += weight · W_down[:, rows] · (silu(W_gate[rows]·x) ⊙ (W_up[rows]·x)).</summary>
    private void BatchExpertBundle(ExpertGridEntry grid, int bundle, ReadOnlySpan<byte> page, List<(int Token, float Weight)> rows)
    {
        var p = _p!;
        var m = rows.Count;
        var r = grid.RowsInBundle(bundle);
        var dim = grid.Dim;
        var type = DTypes.Parse(grid.DType);
        var rowsBytes = (int)type.ByteCount((long)r * dim);
        var x = p.Gathered.AsSpan(0, m * dim);
        MatMul.Compute(type, page[..rowsBytes], r, dim, x, m, p.Gate.AsSpan(0, m * r));
        MatMul.Compute(type, page.Slice(rowsBytes, rowsBytes), r, dim, x, m, p.Up.AsSpan(0, m * r));
        SwiGlu.Compute(p.Gate.AsSpan(0, m * r), p.Up.AsSpan(0, m * r), p.Hidden.AsSpan(0, m * r));
        MatMul.Compute(type, page[(2 * rowsBytes)..], dim, r, p.Hidden.AsSpan(0, m * r), m, p.Down.AsSpan(0, m * dim));
        for (var j = 0; j < m; j++)
            VectorOps.AddScaled(p.Down.AsSpan(j * dim, dim), rows[j].Weight, p.Moe.AsSpan(rows[j].Token * dim, dim));
    }

    private async ValueTask BatchSharedExpertAsync(LayerWeights layer, int n, CancellationToken ct)
    {
        var p = _p!;
        var dim = _h.Dim;
        var hidden = layer.SharedGate!.Rows;
        await MatMulAsync(layer.SharedGate, p.Xb, n, p.Gate, ct).ConfigureAwait(false);
        await MatMulAsync(layer.SharedUp!, p.Xb, n, p.Up, ct).ConfigureAwait(false);
        SwiGlu.Compute(p.Gate.AsSpan(0, n * hidden), p.Up.AsSpan(0, n * hidden), p.Hidden.AsSpan(0, n * hidden));
        await MatMulAsync(layer.SharedDown!, p.Hidden, n, p.Down, ct).ConfigureAwait(false);
        for (var i = 0; i < n; i++)
        {
            var gate = 1f / (1f + MathF.Exp(-VectorOps.Dot(layer.SharedRouter, p.Xb.AsSpan(i * dim, dim))));
            VectorOps.AddScaled(p.Down.AsSpan(i * dim, dim), gate, p.Moe.AsSpan(i * dim, dim));
        }
    }

    /// <summary>Final norm and output projection for the batch's rows (all, or the last).</summary>
    private async ValueTask<float[][]> BatchLogitsAsync(int n, bool allPositions, CancellationToken ct)
    {
        var p = _p!;
        var dim = _h.Dim;
        var first = allPositions ? 0 : n - 1;
        var count = n - first;
        for (var i = 0; i < count; i++)
            RmsNorm.Compute(p.X.AsSpan((first + i) * dim, dim), _outputNorm, (float)_h.NormEps, p.Xb.AsSpan(i * dim, dim));
        var logits = new float[count * _h.Vocab];
        await MatMulAsync(_output, p.Xb, count, logits, ct).ConfigureAwait(false);
        return Enumerable.Range(0, count).Select(i => logits.AsSpan(i * _h.Vocab, _h.Vocab).ToArray()).ToArray();
    }

    private void NormRows(float[] x, float[] weight, float[] y, int n)
    {
        var dim = _h.Dim;
        for (var i = 0; i < n; i++) RmsNorm.Compute(x.AsSpan(i * dim, dim), weight, (float)_h.NormEps, y.AsSpan(i * dim, dim));
    }

    /// <summary>Y[n, Rows] = X[n, Cols] · Wᵀ, streamed page by page.</summary>
    private ValueTask MatMulAsync(DenseWeight w, float[] x, int n, float[] y, CancellationToken ct) =>
        _w.StreamAsync(w, (i, page) => w.MatMulPage(i, page, x.AsSpan(0, n * w.Cols), n, y, _p!.PageScratch), ct);
}
