using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>One row of a batched step: <paramref name="Token"/> at <paramref name="Position"/> of a sequence's cache.
/// <paramref name="Routing"/>, when given, also records this row's expert choices (per-sequence statistics).
/// <paramref name="Retrieval"/>, when given, picks the row's expert pages from the page index instead of the router's
/// top-k, so one batch can mix sequences routed either way.</summary>
public readonly record struct BatchRow(int Token, KvCache Cache, int Position, RoutingStats? Routing = null,
    Retrieval.RetrievalRouting? Retrieval = null);

/// <summary>Batched steps: up to <see cref="MaxBatchRows"/> rows through the model at once — a chunk of one prompt
/// (prefill), one new token of each of many sequences (batched decode), or both mixed. Every weight page is read
/// once per step and multiplied against all the rows that need it (matrix-matrix); each routed expert runs once on
/// just the rows that chose it, so sequences whose tokens pick the same experts share one read of those pages.
/// Same blocks, same order as <see cref="DecodeAsync"/>; only the shapes gain a leading n.</summary>
public sealed partial class ForwardPass
{
    /// <summary>Rows per batched step: long prompts go through in chunks of this many.</summary>
    public const int MaxBatchRows = 64;

    private BatchBuffers? _p;

    /// <summary>Feeds <paramref name="tokens"/> at the cache's next positions; returns the logits of every
    /// position, or of the last only.</summary>
    public async ValueTask<float[][]> PrefillAsync(IReadOnlyList<int> tokens, KvCache cache, bool allPositions, CancellationToken ct = default)
    {
        if (cache.Length + tokens.Count > cache.Capacity)
            throw new Vib3Exception(SqlState.ProgramLimitExceeded,
                $"the prompt is {tokens.Count} tokens but only {cache.Capacity - cache.Length} of the context's {cache.Capacity} are free " +
                "(a longer context: --context, up to the model's)");
        var result = new List<float[]>();
        var before = cache.Length;
        try
        {
            for (var start = 0; start < tokens.Count; start += MaxBatchRows)
            {
                var n = Math.Min(MaxBatchRows, tokens.Count - start);
                var rows = Enumerable.Range(0, n).Select(i => new BatchRow(tokens[start + i], cache, cache.Length + i)).ToArray();
                var wanted = allPositions ? Enumerable.Range(0, n).ToArray() : start + n == tokens.Count ? [n - 1] : [];
                result.AddRange((await StepAsync(rows, wanted, ct).ConfigureAwait(false)).Select(r => (float[])r.Clone()));
            }
        }
        catch
        {
            cache.Length = before; // all or nothing: a cancelled or failed prompt leaves the cache as it was
            throw;
        }
        return [.. result];
    }

    /// <summary>Runs one batched step and returns the logits [vocab] of the rows listed in
    /// <paramref name="logitRows"/>, in that order (buffers reused by the next step: a fresh 128 KB array per row per
    /// step is a large-object allocation that costs a serving loop its garbage collections). Each cache's rows must continue it: positions Length, Length+1, ...
    /// On failure every cache is left as it was.</summary>
    public async ValueTask<float[][]> StepAsync(IReadOnlyList<BatchRow> rows, IReadOnlyList<int> logitRows, CancellationToken ct = default)
    {
        CheckRows(rows);
        // One router-routed row wanting its logits (a lone stream's decode step) is the decode pass, which gives the
        // same bits and hands the kernel threads whole pages where a one-row batch would run matrix products page by page.
        if (rows is [{ Retrieval: null } lone] && logitRows is [0])
            return [await DecodeCoreAsync(lone.Token, lone.Cache, null, ct, lone.Routing).ConfigureAwait(false)];
        using var _ = Enter();
        var lengths = rows.Select(r => r.Cache).Distinct().Select(c => (Cache: c, c.Length)).ToArray();
        try
        {
            await RowsAsync(rows, ct).ConfigureAwait(false);
            var logits = await RowLogitsAsync(logitRows, ct).ConfigureAwait(false);
            foreach (var row in logits) CheckFinite(row);
            return logits;
        }
        catch
        {
            foreach (var (cache, length) in lengths) cache.Length = length;
            throw;
        }
    }

    private void CheckRows(IReadOnlyList<BatchRow> rows)
    {
        if (rows.Count is 0 or > MaxBatchRows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"a batched step takes 1..{MaxBatchRows} rows, not {rows.Count}");
        var next = new Dictionary<KvCache, int>();
        foreach (var r in rows)
        {
            if ((uint)r.Token >= (uint)_h.Vocab)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"token id {r.Token} is outside the vocabulary (0..{_h.Vocab - 1})");
            var expected = next.GetValueOrDefault(r.Cache, r.Cache.Length);
            if (r.Position != expected)
                throw new ArgumentException($"a row at position {r.Position} does not continue its cache (next position {expected})", nameof(rows));
            r.Cache.CheckRoom(r.Position + 1 - r.Cache.Length);
            if (r.Retrieval is not null) RequireIndex();
            next[r.Cache] = expected + 1;
        }
    }

    private async ValueTask RowsAsync(IReadOnlyList<BatchRow> rows, CancellationToken ct)
    {
        var n = rows.Count;
        var p = _p ??= new BatchBuffers(_h, MaxBatchRows, _b.Gate.Length, _w.Manifest.Tensors.Max(t => t.RowsPerPage));
        var dim = _h.Dim;
        var retrieval = rows.Select(r => r.Retrieval).ToArray();
        for (var i = 0; i < n; i++)
        {
            var token = rows[i].Token;
            var row = p.X.AsMemory(i * dim, dim);
            await _w.StreamPagesAsync(_embedding.PageOfRow(token), 1, (_, page) => _embedding.Row(page, token, row.Span), ct).ConfigureAwait(false);
        }
        for (var l = 0; l < _layers.Length; l++)
        {
            var layer = _layers[l];
            NormRows(p.X, layer.AttnNorm, p.Xb, n);
            if (_recipe.LatentAttention) await LatentAttentionAsync(layer, l, rows, p.Xb, p.O, ct).ConfigureAwait(false);
            else await BatchAttentionAsync(layer, l, rows, ct).ConfigureAwait(false);
            VectorOps.Add(p.O.AsSpan(0, n * dim), p.X.AsSpan(0, n * dim));
            await PrefetchNextExpertsAsync(l, p.X, n, retrieval, ct).ConfigureAwait(false);

            NormRows(p.X, layer.FfnNorm, p.Xb, n);
            if (_observer is { } observer)
                for (var i = 0; i < n; i++) observer.FfnInput(l, p.Xb.AsSpan(i * dim, dim));
            if (layer.Experts is null)
            {
                await BatchSwiGluFfnAsync(layer.FfnGate!, layer.FfnUp!, layer.FfnDown!, n, ct).ConfigureAwait(false);
                p.Down.AsSpan(0, n * dim).CopyTo(p.Moe);
            }
            else await BatchMixtureOfExpertsAsync(layer, layer.Experts, rows, ct).ConfigureAwait(false);
            VectorOps.Add(p.Moe.AsSpan(0, n * dim), p.X.AsSpan(0, n * dim));
        }
        foreach (var r in rows) r.Cache.Length = Math.Max(r.Cache.Length, r.Position + 1);
    }

    /// <summary>Every row writes its key and value into its own cache first, then attends causally over its cache up
    /// to its own position (rows of one prompt chunk see each other in order).</summary>
    private async ValueTask BatchAttentionAsync(LayerWeights layer, int l, IReadOnlyList<BatchRow> rows, CancellationToken ct)
    {
        var p = _p!;
        var n = rows.Count;
        var qDim = _h.Heads * _h.HeadDim;
        var kvDim = _h.KvHeads * _h.HeadDim;
        await MatMulAsync(layer.Q!, p.Xb, n, p.Q, ct).ConfigureAwait(false);
        await MatMulAsync(layer.K!, p.Xb, n, p.K, ct).ConfigureAwait(false);
        await MatMulAsync(layer.V!, p.Xb, n, p.V, ct).ConfigureAwait(false);
        for (var i = 0; i < n; i++)
        {
            var (cache, pos) = (rows[i].Cache, rows[i].Position);
            PositionQueryAndKey(layer, p.Q.AsSpan(i * qDim, qDim), p.K.AsSpan(i * kvDim, kvDim), p.V.AsSpan(i * kvDim, kvDim), pos);
            cache.Write(l, pos, p.K.AsSpan(i * kvDim, kvDim), p.V.AsSpan(i * kvDim, kvDim));
        }
        // Rows attend independently (each over its own cache), so they are spread over the kernel threads.
        KernelThreads.ParallelFor(n, i =>
        {
            var seen = rows[i].Position + 1; // causal: row i attends to positions [0, its position]
            var scratch = System.Buffers.ArrayPool<float>.Shared.Rent(seen);
            try
            {
                rows[i].Cache.Attend(l, seen, p.Q.AsSpan(i * qDim, qDim), _h.Heads, _h.KvHeads, _h.HeadDim, p.Att.AsSpan(i * qDim, qDim), scratch);
            }
            finally
            {
                System.Buffers.ArrayPool<float>.Shared.Return(scratch);
            }
        });
        await MatMulAsync(layer.O, p.Att, n, p.O, ct).ConfigureAwait(false);
    }

    /// <summary>Routes every row, then runs each chosen expert once on the rows that chose it.</summary>
    private async ValueTask BatchMixtureOfExpertsAsync(LayerWeights layer, ExpertGridEntry grid, IReadOnlyList<BatchRow> rows, CancellationToken ct)
    {
        var p = _p!;
        var n = rows.Count;
        var (k, experts, dim) = (_h.TopK, _h.Experts, _h.Dim);
        await MatMulAsync(layer.Router!, p.Xb, n, p.RouterLogits, ct).ConfigureAwait(false);
        var chosen = new List<(int Row, float Weight)>[experts];
        var byPage = new SortedDictionary<int, List<(int Row, float Weight)>>(); // retrieval rows, by page within the layer
        for (var i = 0; i < n; i++)
        {
            var logits = p.RouterLogits.AsSpan(i * experts, experts);
            if (rows[i].Retrieval is { } retrieval)
            {
                Softmax.InPlace(logits);
                var (pages, pageWeights, touched, touchedWeights) = Retrieve(RequireIndex(), grid, p.Xb.AsSpan(i * dim, dim), logits, retrieval);
                Routing.Record(grid.Layer, touched, touchedWeights);
                rows[i].Routing?.Record(grid.Layer, touched, touchedWeights);
                for (var j = 0; j < pages.Length; j++)
                {
                    if (!byPage.TryGetValue(pages[j], out var list)) byPage[pages[j]] = list = [];
                    list.Add((i, pageWeights[j]));
                }
                continue;
            }
            var top = p.TopExperts.AsSpan(i * k, k);
            var weights = p.TopWeights.AsSpan(i * k, k);
            Route(layer, logits, top, weights);
            Routing.Record(grid.Layer, top, weights);
            rows[i].Routing?.Record(grid.Layer, top, weights);
            ScorePrediction(grid.Layer, i, top);
            for (var j = 0; j < k; j++) (chosen[top[j]] ??= []).Add((i, weights[j]));
        }

        Array.Clear(p.Moe, 0, n * dim);
        var routed = new List<BundleRows>();
        for (var e = 0; e < experts; e++)
            if (chosen[e] is { } expertRows)
                for (var b = 0; b < grid.BundlesPerExpert; b++) routed.Add(new BundleRows(grid.PageOf(e, b), b, expertRows));
        await BatchBundlesAsync(grid, routed, ct).ConfigureAwait(false);
        await BatchRetrievedPagesAsync(grid, byPage, ct).ConfigureAwait(false);
        if (_recipe.SharedExpert) await BatchSharedExpertAsync(layer, n, ct).ConfigureAwait(false);
    }

    /// <summary>One expert bundle page and the rows that run on it: absolute page id, bundle within its expert, and
    /// (row, routing weight) for each row.</summary>
    private readonly record struct BundleRows(int Page, int Bundle, List<(int Row, float Weight)> Rows);

    /// <summary>Moe[row] += weight · bundle(row) for every listed bundle page and its rows. All the pages of the layer
    /// go to the kernel threads together, a whole page each (pages already in RAM arrive in one group; pages read
    /// from disk as their reads land, at most <see cref="ModelWeights.UnorderedInFlight"/> outstanding and never more
    /// than the page cache holds), instead of expert after expert with threads idling at each expert's last page.
    /// Each page's [rows, dim] output has its own place; they are added into Moe afterwards in list order, so the bits
    /// never depend on which read or thread finished first.</summary>
    private async ValueTask BatchBundlesAsync(ExpertGridEntry grid, IReadOnlyList<BundleRows> work, CancellationToken ct)
    {
        if (work.Count == 0) return;
        var p = _p!;
        var dim = _h.Dim;
        var offsets = new int[work.Count + 1]; // start of each page's [rows, dim] block in outputs
        for (var j = 0; j < work.Count; j++) offsets[j + 1] = offsets[j] + work[j].Rows.Count * dim;
        var outputs = p.BundleOutputs(offsets[^1]);
        await _w.StreamPagesUnorderedAsync(work.Select(w => w.Page).ToArray(), ModelWeights.UnorderedInFlight, (indices, pages) =>
        {
            // Most rows first, so the last page a thread claims is a short one.
            var order = Enumerable.Range(0, indices.Count).OrderByDescending(i => work[indices[i]].Rows.Count).ToArray();
            KernelThreads.ParallelFor(order.Length, k =>
            {
                var (i, j) = (order[k], indices[order[k]]);
                BatchExpertBundle(grid, work[j], pages[i].Span, outputs.AsSpan(offsets[j], offsets[j + 1] - offsets[j]));
            });
        }, ct).ConfigureAwait(false);
        for (var j = 0; j < work.Count; j++)
            for (var t = 0; t < work[j].Rows.Count; t++)
                VectorOps.AddScaled(outputs.AsSpan(offsets[j] + t * dim, dim), work[j].Rows[t].Weight, p.Moe.AsSpan(work[j].Rows[t].Row * dim, dim));
    }

    /// <summary>For the m rows of <paramref name="work"/>: output[t] = W_down[:, rows] · (silu(W_gate[rows]·x_t) ⊙
    /// (W_up[rows]·x_t)), one bundle page's contribution before the routing weight. The page's gate rows and up rows
    /// are one [2r, dim] product (each input quantised once).</summary>
    private void BatchExpertBundle(ExpertGridEntry grid, BundleRows work, ReadOnlySpan<byte> page, Span<float> output)
    {
        var p = _p!;
        var scratch = p.RentScratch();
        try
        {
            var (r, dim, m) = (grid.RowsInBundle(work.Bundle), grid.Dim, work.Rows.Count);
            for (var t = 0; t < m; t++) p.Xb.AsSpan(work.Rows[t].Row * dim, dim).CopyTo(scratch.Gathered.AsSpan(t * dim, dim));
            var type = grid.GateUpType();
            var rowsBytes = (int)type.ByteCount((long)r * dim);
            var gateUp = scratch.GateUp.AsSpan(0, m * 2 * r); // [m, 2r]: row t's gate outputs, then its up outputs
            var layouts = _w.ExpertLayouts(grid);
            MatMul.Compute(type, layouts.GateUp, page[..(2 * rowsBytes)], 2 * r, dim, scratch.Gathered.AsSpan(0, m * dim), m, gateUp);
            for (var t = 0; t < m; t++)
                SwiGlu.Compute(gateUp.Slice(t * 2 * r, r), gateUp.Slice(t * 2 * r + r, r), scratch.Hidden.AsSpan(t * r, r));
            MatMul.Compute(grid.DownType(), layouts.Down, page[(2 * rowsBytes)..], dim, r, scratch.Hidden.AsSpan(0, m * r), m, output);
        }
        finally
        {
            p.ReturnScratch(scratch);
        }
    }

    /// <summary>Moe += gate · shared expert, per row: gate = sigmoid(w_shared · x) (Qwen2-MoE) or 1 (ungated, deepseek2).</summary>
    private async ValueTask BatchSharedExpertAsync(LayerWeights layer, int n, CancellationToken ct)
    {
        var p = _p!;
        var dim = _h.Dim;
        await BatchSwiGluFfnAsync(layer.SharedGate!, layer.SharedUp!, layer.SharedDown!, n, ct).ConfigureAwait(false);
        for (var i = 0; i < n; i++)
        {
            var gate = layer.SharedRouter is { } w ? 1f / (1f + MathF.Exp(-VectorOps.Dot(w, p.Xb.AsSpan(i * dim, dim)))) : 1f;
            VectorOps.AddScaled(p.Down.AsSpan(i * dim, dim), gate, p.Moe.AsSpan(i * dim, dim));
        }
    }

    /// <summary>Down[n, dim] = down · (silu(gate · Xb) ⊙ (up · Xb)) for the n rows.</summary>
    private async ValueTask BatchSwiGluFfnAsync(DenseWeight gate, DenseWeight up, DenseWeight down, int n, CancellationToken ct)
    {
        var p = _p!;
        var hidden = gate.Rows;
        await MatMulAsync(gate, p.Xb, n, p.Gate, ct).ConfigureAwait(false);
        await MatMulAsync(up, p.Xb, n, p.Up, ct).ConfigureAwait(false);
        SwiGlu.Compute(p.Gate.AsSpan(0, n * hidden), p.Up.AsSpan(0, n * hidden), p.Hidden.AsSpan(0, n * hidden));
        await MatMulAsync(down, p.Hidden, n, p.Down, ct).ConfigureAwait(false);
    }

    /// <summary>Final norm and output projection for the listed rows.</summary>
    private async ValueTask<float[][]> RowLogitsAsync(IReadOnlyList<int> rows, CancellationToken ct)
    {
        var p = _p!;
        var dim = _h.Dim;
        var count = rows.Count;
        if (count == 0) return [];
        for (var i = 0; i < count; i++)
            RmsNorm.Compute(p.X.AsSpan(rows[i] * dim, dim), _outputNorm, (float)_h.NormEps, p.Xb.AsSpan(i * dim, dim));
        var logits = p.Logits(count * _h.Vocab); // reused: a fresh [rows, vocab] array per step is a large-object allocation
        await MatMulAsync(_output, p.Xb, count, logits, ct).ConfigureAwait(false);
        var result = new float[count][];
        for (var i = 0; i < count; i++) logits.AsSpan(i * _h.Vocab, _h.Vocab).CopyTo(result[i] = p.RowLogits(i, _h.Vocab));
        return result;
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
