using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Device;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>The FFN half of a layer for a step's rows: routed experts (each chosen expert's bundle pages read once and
/// run on the rows that chose it), the shared expert, or a leading dense layer's FFN.</summary>
public sealed partial class ForwardPass
{
    private float[] _bundleOutputs = [];                    // the CPU's pages' outputs of the last BundlesAsync, at _bundleOffsets
    private ReadOnlyMemory<float> _fromDevice;              // the device's pages' outputs, at the same offsets
    private int[] _bundleOffsets = [0];                     // start of each page's [rows, dim] block
    private readonly HashSet<(int Work, int Slot)> _dropped = []; // (index in _work, row slot in it) the page oracle left out this operator
    private float[]?[] _observedHidden = [];                // per page of the last BundlesAsync: its [rows, r] activations, for an observer that wants them

    /// <summary>The Router operator: router logits for every row of Xb; a router row's top-k experts and weights into
    /// TopExperts / TopWeights, a retrieval row's softmax (the weights of the pages Experts retrieves) left in
    /// RouterLogits.</summary>
    private async ValueTask RouteAsync(LayerWeights layer, ExpertGridEntry grid, IReadOnlyList<StepRow> rows, CancellationToken ct)
    {
        var p = _p!;
        var n = rows.Count;
        var (k, experts) = (_h.TopK, _h.Experts);
        await ProjectXbAsync(layer.Router!, n, p.RouterLogits, ct).ConfigureAwait(false);
        for (var i = 0; i < n; i++)
        {
            var logits = p.RouterLogits.AsSpan(i * experts, experts);
            if (rows[i].Retrieval is { RouterFirst: false })
            {
                Softmax.InPlace(logits);
                continue;
            }
            var top = p.TopExperts.AsSpan(i * k, k);
            var weights = p.TopWeights.AsSpan(i * k, k);
            Route(layer, logits, top, weights);
            Routing.Record(grid.Layer, top, weights);
            rows[i].Routing?.Record(grid.Layer, top, weights);
            _observer?.Routed(grid.Layer, i, top, weights);
            ScorePrediction(grid.Layer, i, top);
        }
    }

    /// <summary>The Experts operator: each row's pages — every bundle of its top-k experts, or the pages its program
    /// retrieves from the index — then each page read once and run on the rows that chose it, into Moe. The pages and
    /// their rows stay in <see cref="_work"/> for the statements' figures (each is given the pages its own rows used).</summary>
    private async ValueTask ExpertsAsync(ExpertGridEntry grid, IReadOnlyList<StepRow> rows, CancellationToken ct)
    {
        var p = _p!;
        var n = rows.Count;
        var (k, experts, dim) = (_h.TopK, _h.Experts, _h.Dim);
        var chosen = new List<(int Row, float Weight)>[experts];
        var byPage = new SortedDictionary<int, List<(int Row, float Weight)>>(); // retrieval rows, by page within the layer
        if (_keyBytes.Length < n) _keyBytes = new long[n];
        Array.Clear(_keyBytes);
        for (var i = 0; i < n; i++)
        {
            if (rows[i].Retrieval is { RouterFirst: true } inside)
            {
                SelectInside(rows[i], grid, i, p.Xb.AsSpan(i * dim, dim), p.TopExperts.AsSpan(i * k, k), p.TopWeights.AsSpan(i * k, k), inside, byPage);
                continue;
            }
            if (rows[i].Retrieval is { } retrieval)
            {
                var probs = p.RouterLogits.AsSpan(i * experts, experts);
                var (pages, pageWeights, touched, touchedWeights) = Retrieve(RequireIndex(rows[i]), grid, p.Xb.AsSpan(i * dim, dim), probs, retrieval);
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
            for (var j = 0; j < k; j++) (chosen[top[j]] ??= []).Add((i, weights[j]));
        }

        Array.Clear(p.Moe, 0, n * dim);
        var routed = new List<BundleRows>();
        for (var e = 0; e < experts; e++)
            if (chosen[e] is { } expertRows)
                for (var b = 0; b < grid.BundlesPerExpert; b++) routed.Add(new BundleRows(grid.PageOf(e, b), b, expertRows));
        routed.AddRange(byPage.Select(kv => new BundleRows(grid.FirstPage + kv.Key, kv.Key % grid.BundlesPerExpert, kv.Value)));
        _work = routed;
        _dropped.Clear();
        await BundlesAsync(grid, routed, n, ct).ConfigureAwait(false);
        if (_observer is { ObservesExperts: true } observer) ShowHidden(observer, grid, routed);
        for (var i = 0; i < n; i++)
            if (rows[i].Oracle is { } oracle) Drop(grid, routed, i, rows[i], oracle);
        AddBundles(routed);
    }

    /// <summary>Hands the observer each CPU page's activations and output of the operator, page by page in work order.</summary>
    private void ShowHidden(IForwardObserver observer, ExpertGridEntry grid, IReadOnlyList<BundleRows> work)
    {
        for (var j = 0; j < work.Count; j++)
        {
            if (_observedHidden[j] is not { } hidden) continue;
            var (r, expert) = (grid.RowsInBundle(work[j].Bundle), (work[j].Page - grid.FirstPage) / grid.BundlesPerExpert);
            for (var t = 0; t < work[j].Rows.Count; t++)
            {
                observer.ExpertHidden(grid.Layer, expert, work[j].Bundle * grid.BundleRows, work[j].Rows[t].Row, hidden.AsSpan(t * r, r));
                observer.ExpertOutput(grid.Layer, expert, work[j].Bundle * grid.BundleRows, work[j].Rows[t].Row, BundleOutput(j).Slice(t * _h.Dim, _h.Dim));
            }
        }
    }

    /// <summary>The page oracle: of the pages row <paramref name="row"/> ran on, those outside the share it keeps go to
    /// <see cref="_dropped"/> and are not added in: hot pages first when it pins them, then the largest contributions
    /// (router weight × the norm of the page's output for the row; ties to the earlier page), or for the random control
    /// a fixed random share.</summary>
    private void Drop(ExpertGridEntry grid, IReadOnlyList<BundleRows> work, int row, StepRow r, PageOracle oracle)
    {
        var dim = _h.Dim;
        var mine = new List<(int Work, int Slot, bool Hot, double Score)>();
        for (var j = 0; j < work.Count; j++)
            for (var t = 0; t < work[j].Rows.Count; t++)
                if (work[j].Rows[t].Row == row)
                    mine.Add((j, t, oracle.PinHot && grid.IsHot((work[j].Page - grid.FirstPage) / grid.BundlesPerExpert, work[j].Bundle),
                        oracle.Random
                            ? PageOracleOrder.Of(grid.Layer, work[j].Page, r.Position, r.Token)
                            : Math.Abs(work[j].Rows[t].Weight) * System.Numerics.Tensors.TensorPrimitives.Norm(BundleOutput(j).Slice(t * dim, dim))));
        var kept = (int)Math.Ceiling(oracle.Keep * mine.Count - 1e-9);
        var ranked = mine.OrderByDescending(x => x.Hot).ThenByDescending(x => x.Score).ThenBy(x => x.Work).ToList();
        foreach (var (j, slot, hot, _) in ranked.Skip(kept))
            if (!hot) _dropped.Add((j, slot));
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

    /// <summary>One expert bundle page and the rows that run on it: absolute page id, bundle within its expert, and
    /// (row, routing weight) for each row.</summary>
    internal readonly record struct BundleRows(int Page, int Bundle, List<(int Row, float Weight)> Rows);

    /// <summary>bundle(row) for every listed bundle page and its rows, each page's [rows, dim] block in its own place
    /// (<see cref="BundleOutput"/>; <see cref="AddBundles"/> adds them into Moe). With the VRAM expert cache,
    /// each page is first placed (<see cref="DeviceExperts.Place"/>): resident pages are queued on the device at once
    /// and run there while the CPU works; uploaded pages are read, copied to their slot and queued as they arrive; the
    /// rest run on the CPU. All the CPU's pages of the layer go to the kernel threads together, a whole page each (pages
    /// already in RAM arrive in one group; pages read from disk as their reads land, at most
    /// <see cref="ModelWeights.UnorderedInFlight"/> outstanding and never more than the page cache holds), instead of
    /// expert after expert with threads idling at each expert's last page. A device that fails is given up and the whole
    /// layer's pages run on the CPU.</summary>
    private async ValueTask BundlesAsync(ExpertGridEntry grid, IReadOnlyList<BundleRows> work, int n, CancellationToken ct)
    {
        if (work.Count == 0) return;
        var p = _p!;
        var dim = _h.Dim;
        var offsets = new int[work.Count + 1]; // start of each page's [rows, dim] block in outputs (the CPU's) or the device's outputs
        for (var j = 0; j < work.Count; j++) offsets[j + 1] = offsets[j] + work[j].Rows.Count * dim;
        var outputs = p.BundleOutputs(offsets[^1]);
        var lone = n == 1; // one row: the matrix-vector kernels on Xb's prepared input
        var places = _places = new ExpertPlace[work.Count]; // all Cpu without the cache
        var experts = _device is { Failure: null, Experts: { } cache } && DeviceExperts.Runs(grid) ? cache : null;
        if (experts is not null && !PlaceOnDevice(experts, grid, work, places, lone)) experts = null; // failed: all on the CPU
        var reading = Enumerable.Range(0, work.Count).Where(j => places[j] != ExpertPlace.Vram).ToArray(); // work index of each read
        _readAt = new int[work.Count];
        Array.Fill(_readAt, -1);
        for (var i = 0; i < reading.Length; i++) _readAt[reading[i]] = i;
        if (lone && places.Contains(ExpertPlace.Cpu)) p.XbInput.Quantize(grid.GateUpType()); // made here, once, not by whichever thread gets there first
        var fromDevice = ReadOnlyMemory<float>.Empty; // the device's pages' outputs, at the same offsets as the CPU's
        var observed = _observedHidden = _observer is { ObservesExperts: true } ? new float[]?[work.Count] : [];
        try
        {
            await _w.StreamPagesUnorderedAsync(reading.Select(j => work[j].Page).ToArray(), ModelWeights.UnorderedInFlight, (indices, pages) =>
            {
                for (var i = 0; i < indices.Count; i++) // uploads first, one at a time: the device's stream is one
                {
                    var j = reading[indices[i]];
                    if (places[j] != ExpertPlace.Upload) continue;
                    DeviceCall(() =>
                    {
                        experts!.Upload(work[j].Page, _w.StoredBytes(work[j].Page, pages[i].Span));
                        experts.Run(grid, work[j].Page, grid.RowsInBundle(work[j].Bundle), p.Xb, work[j].Rows, offsets[j] / dim, lone);
                    });
                }
                // Most rows first, so the last page a thread claims is a short one.
                var order = Enumerable.Range(0, indices.Count).Where(i => places[reading[indices[i]]] == ExpertPlace.Cpu)
                    .OrderByDescending(i => work[reading[indices[i]]].Rows.Count).ToArray();
                KernelThreads.ParallelForRanges(order.Length, (from, to) =>
                {
                    var scratch = p.RentScratch(); // once a run of pages: two thousand pages a layer at one neuron a page
                    try
                    {
                        for (var k = from; k < to; k++)
                        {
                            var (i, j) = (order[k], reading[indices[order[k]]]);
                            var hidden = observed.Length == 0 ? null : observed[j] = new float[work[j].Rows.Count * grid.RowsInBundle(work[j].Bundle)];
                            ExpertBundle(grid, work[j], pages[i].Span, outputs.AsSpan(offsets[j], offsets[j + 1] - offsets[j]), lone, hidden, scratch);
                        }
                    }
                    finally
                    {
                        p.ReturnScratch(scratch);
                    }
                });
            }, ct, _reads).ConfigureAwait(false);
            if (experts is not null && places.Any(x => x != ExpertPlace.Cpu)) DeviceCall(() => fromDevice = experts.EndStep(offsets[^1] / dim));
        }
        catch (DeviceFault fault)
        {
            experts!.ReleaseInUse();
            _device!.Fail(fault.InnerException!);
            _reads?.Clear();
            await BundlesAsync(grid, work, n, ct).ConfigureAwait(false); // every page again, on the CPU
            return;
        }
        (_bundleOutputs, _fromDevice, _bundleOffsets) = (outputs, fromDevice, offsets);
    }

    /// <summary>Page j's outputs [its rows, dim] of the last <see cref="BundlesAsync"/>, wherever it ran.</summary>
    private ReadOnlySpan<float> BundleOutput(int j) => _places[j] == ExpertPlace.Cpu
        ? _bundleOutputs.AsSpan(_bundleOffsets[j], _bundleOffsets[j + 1] - _bundleOffsets[j])
        : _fromDevice.Span.Slice(_bundleOffsets[j], _bundleOffsets[j + 1] - _bundleOffsets[j]);

    /// <summary>Moe[row] += weight · output for every page and row of <paramref name="work"/> (those the page oracle
    /// dropped excepted), in list order: the bits never depend on which read or thread finished first.</summary>
    private void AddBundles(IReadOnlyList<BundleRows> work)
    {
        var dim = _h.Dim;
        for (var j = 0; j < work.Count; j++)
        {
            var from = BundleOutput(j);
            for (var t = 0; t < work[j].Rows.Count; t++)
                if (_dropped.Count == 0 || !_dropped.Contains((j, t)))
                    VectorOps.AddScaled(from.Slice(t * dim, dim), work[j].Rows[t].Weight, _p!.Moe.AsSpan(work[j].Rows[t].Row * dim, dim));
        }
    }

    /// <summary>Places every page of <paramref name="work"/> (<see cref="DeviceExperts.Place"/>) and queues the resident
    /// ones on the device, their outputs at the same rows as the CPU's; false when the device failed (given up, and
    /// every page left to the CPU).</summary>
    private bool PlaceOnDevice(DeviceExperts experts, ExpertGridEntry grid, IReadOnlyList<BundleRows> work, ExpertPlace[] places, bool lone)
    {
        try
        {
            var rows = 0;
            for (var j = 0; j < work.Count; j++)
            {
                places[j] = experts.Place(grid.Layer, work[j].Page, work[j].Rows.Count);
                rows += work[j].Rows.Count;
            }
            experts.BeginStep(rows);
            var at = 0;
            for (var j = 0; j < work.Count; j++)
            {
                if (places[j] == ExpertPlace.Vram) experts.Run(grid, work[j].Page, grid.RowsInBundle(work[j].Bundle), _p!.Xb, work[j].Rows, at, lone);
                at += work[j].Rows.Count;
            }
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            experts.ReleaseInUse();
            _device!.Fail(e);
            Array.Clear(places);
            return false;
        }
    }

    /// <summary>A device call inside a page consumer; its failure is carried out of the stream as a
    /// <see cref="DeviceFault"/>, apart from the store's own errors.</summary>
    private static void DeviceCall(Action call)
    {
        try
        {
            call();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new DeviceFault(e);
        }
    }

    private sealed class DeviceFault(Exception inner) : Exception(inner.Message, inner);

    /// <summary>For the m rows of <paramref name="work"/>: output[t] = W_down[:, rows] · (silu(W_gate[rows]·x_t) ⊙
    /// (W_up[rows]·x_t)), one bundle page's contribution before the routing weight. The page's gate rows and up rows
    /// are one [2r, dim] product (each input quantised once). <paramref name="lone"/>: the step's only row, through
    /// the matrix-vector kernels on its prepared input; the same bits as a product of one row. <paramref name="observed"/>:
    /// where the page's [m, r] activations are copied for an observer, or null. <paramref name="scratch"/>: the calling
    /// thread's buffers, rented for its run of pages.</summary>
    private void ExpertBundle(ExpertGridEntry grid, BundleRows work, ReadOnlySpan<byte> page, Span<float> output, bool lone, float[]? observed,
        ExpertScratch scratch)
    {
        var p = _p!;
        var (r, dim, m) = (grid.RowsInBundle(work.Bundle), grid.Dim, work.Rows.Count);
        var type = grid.GateUpType();
        var rowsBytes = (int)type.ByteCount((long)r * dim);
        var gateUp = scratch.GateUp.AsSpan(0, m * 2 * r); // [m, 2r]: row t's gate outputs, then its up outputs
        var hidden = scratch.Hidden.AsSpan(0, m * r);     // [m, r]
        var layouts = _w.ExpertLayouts(grid);
        if (lone) MatVec.Compute(type, layouts.GateUp, page[..(2 * rowsBytes)], 2 * r, dim, p.XbInput, gateUp);
        else
        {
            for (var t = 0; t < m; t++) p.Xb.AsSpan(work.Rows[t].Row * dim, dim).CopyTo(scratch.Gathered.AsSpan(t * dim, dim));
            MatMul.Compute(type, layouts.GateUp, page[..(2 * rowsBytes)], 2 * r, dim, scratch.Gathered.AsSpan(0, m * dim), m, gateUp);
        }
        for (var t = 0; t < m; t++)
            SwiGlu.Compute(gateUp.Slice(t * 2 * r, r), gateUp.Slice(t * 2 * r + r, r), hidden.Slice(t * r, r));
        if (observed is not null) hidden.CopyTo(observed);
        if (r <= NarrowBundleRows) NarrowDown(grid.DownType(), page[(2 * rowsBytes)..], dim, r, hidden, m, output, scratch.DownColumns);
        else if (lone) MatVec.Compute(grid.DownType(), layouts.Down, page[(2 * rowsBytes)..], dim, r, hidden, output);
        else MatMul.Compute(grid.DownType(), layouts.Down, page[(2 * rowsBytes)..], dim, r, hidden, m, output);
    }

    /// <summary>Pages of at most this many neurons take their down product in <see cref="NarrowDown"/>: a [dim, r]
    /// matrix-vector product of r ≤ 4 spends its time on dim rows' setup, not on their 1–4 values each.</summary>
    public const int NarrowBundleRows = 4;

    /// <summary>output[t] = Σ_c hidden[t, c] · W_down[:, c] for a narrow page's down slice <paramref name="down"/> [dim, r]
    /// (an element type: a page narrower than a block only exists for f32, f16 and bf16), made f32 in
    /// <paramref name="values"/> first; each output summed over c in order.</summary>
    private static void NarrowDown(DType type, ReadOnlySpan<byte> down, int dim, int r, ReadOnlySpan<float> hidden, int m, Span<float> output, float[] values)
    {
        var d = values.AsSpan(0, dim * r); // [dim, r]
        DTypeConvert.ToF32(type, down[..(int)type.ByteCount((long)dim * r)], d);
        for (var t = 0; t < m; t++)
        {
            var y = output.Slice(t * dim, dim);
            var h = hidden.Slice(t * r, r);
            if (r == 1)
            {
                System.Numerics.Tensors.TensorPrimitives.Multiply(d, h[0], y);
                continue;
            }
            for (var i = 0; i < dim; i++)
            {
                var sum = 0f;
                for (var c = 0; c < r; c++) sum += d[i * r + c] * h[c];
                y[i] = sum;
            }
        }
    }

    /// <summary>Moe += gate · shared expert, per row: gate = sigmoid(w_shared · x) (Qwen2-MoE) or 1 (ungated, deepseek2).</summary>
    private async ValueTask SharedExpertAsync(LayerWeights layer, int n, CancellationToken ct)
    {
        var p = _p!;
        var dim = _h.Dim;
        await SwiGluFfnAsync(layer.SharedGate!, layer.SharedUp!, layer.SharedDown!, n, ct).ConfigureAwait(false);
        for (var i = 0; i < n; i++)
        {
            var gate = layer.SharedRouter is { } w ? 1f / (1f + MathF.Exp(-VectorOps.Dot(w, p.Xb.AsSpan(i * dim, dim)))) : 1f;
            VectorOps.AddScaled(p.Down.AsSpan(i * dim, dim), gate, p.Moe.AsSpan(i * dim, dim));
        }
    }

    /// <summary>Moe = down(silu(gate·Xb) ⊙ up·Xb): the FFN of a leading dense layer.</summary>
    private async ValueTask DenseFfnAsync(LayerWeights layer, int n, CancellationToken ct)
    {
        await SwiGluFfnAsync(layer.FfnGate!, layer.FfnUp!, layer.FfnDown!, n, ct).ConfigureAwait(false);
        _p!.Down.AsSpan(0, n * _h.Dim).CopyTo(_p.Moe);
    }

    /// <summary>Down[n, dim] = down · (silu(gate · Xb) ⊙ (up · Xb)) for the n rows: on the device in one round trip when
    /// all three matrices are resident there, else product by product (each on the device when resident).</summary>
    private async ValueTask SwiGluFfnAsync(DenseWeight gate, DenseWeight up, DenseWeight down, int n, CancellationToken ct)
    {
        var p = _p!;
        if (_device is { } device && device.HoldsFfn(gate, up, down) && RunOnDevice(3, d => d.SwiGluFfn(gate, up, down, p.Xb, n, p.Down))) return;
        var hidden = gate.Rows;
        await ProjectXbAsync(gate, n, p.Gate, ct).ConfigureAwait(false);
        await ProjectXbAsync(up, n, p.Up, ct).ConfigureAwait(false);
        SwiGlu.Compute(p.Gate.AsSpan(0, n * hidden), p.Up.AsSpan(0, n * hidden), p.Hidden.AsSpan(0, n * hidden));
        await ProjectAsync(down, p.Hidden, n, p.Down, ct).ConfigureAwait(false);
    }
}
