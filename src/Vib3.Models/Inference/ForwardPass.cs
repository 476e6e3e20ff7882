using System.Diagnostics;
using Vib3.Storage;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Architectures;
using Vib3.Models.Device;
using Vib3.Models.Retrieval;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>One row of a step: <paramref name="Token"/> at <paramref name="Position"/> of a sequence's cache.
/// <paramref name="Routing"/>, when given, also records this row's expert choices (per-sequence statistics).
/// <paramref name="Program"/> is its statement's forward program (null: the router's, as the pass was built); its
/// Experts operators pick the row's pages, so one step can mix rows routed by the router and by the page index,
/// <paramref name="Index"/> being the index a retrieval row searches. <paramref name="Actuals"/>, when given, receives
/// each operator's figures for the steps this row is in (EXPLAIN ANALYZE), counted under <paramref name="Phase"/>
/// (a prompt row, or a generated token's).</summary>
public readonly record struct StepRow(int Token, KvCache Cache, int Position, RoutingStats? Routing = null,
    ForwardProgram? Program = null, PageIndex? Index = null, StatementActuals? Actuals = null, StepPhase Phase = StepPhase.Decode)
{
    /// <summary>How the row's experts are chosen: null for the router's top-k.</summary>
    public RetrievalRouting? Retrieval => Program?.Retrieval;

    /// <summary>The page oracle measuring the row, or null (<see cref="PageOracle"/>).</summary>
    public PageOracle? Oracle => Program?.Oracle;
}

/// <summary>The forward pass, the executor of a <see cref="ForwardProgram"/>: a step of 1 to <see cref="MaxBatchRows"/>
/// rows through the program's operators, top to bottom — Embed → per layer (Attention, Prediction, FfnNorm, then
/// Router, Experts, SharedExpert or DenseFfn) → FinalNorm → LmHead (Sample is the scheduler's, on the logits). A decode step is a step
/// of one row, a prompt goes through in chunks of rows, and the next tokens of many sequences share a step. Every
/// weight page is read once per step and multiplied against all the rows that need it: one row takes the
/// matrix-vector kernels (its normalised input quantised once for every matrix that reads it, a tensor's pages handed
/// to the kernel threads as one job), several rows the matrix-matrix kernels, and a row gets the same bits either way.
/// Each routed expert runs once, on just the rows that chose it, bundle page by bundle page:
/// y += g_e · W_down[:, rows] · (silu(W_gate[rows]·x) ⊙ (W_up[rows]·x)). One caller at a time: activations live in
/// the instance (a second concurrent call is refused).</summary>
public sealed partial class ForwardPass : IDisposable
{
    /// <summary>Rows per step: long prompts go through in chunks of this many.</summary>
    public const int MaxBatchRows = 64;

    private readonly ModelWeights _w;
    private readonly HyperParameters _h;
    private readonly BlockRecipe _recipe;
    private readonly LayerWeights[] _layers;
    private readonly DenseWeight _embedding;  // [vocab, dim]
    private readonly DenseWeight _output;     // [vocab, dim] (the embedding when tied)
    private readonly float[] _outputNorm;     // [dim]
    private readonly int _maxBundleRows;      // rows of the largest expert bundle page
    private readonly int _maxPageRows;        // rows of the largest page of any tensor
    private IForwardObserver? _observer;
    private DeviceMatrices? _device;           // the matrices resident in VRAM and their products; null: all on the CPU
    private readonly ForwardProgram _program;  // the router's program, for rows that bring none
    private readonly PageReadTally _tally = new(); // pages the running operator has read, and how
    private PageReadTally? _reads;                 // _tally while a measured step runs (EXPLAIN ANALYZE), else null: no counting
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ForwardProgram, ForwardProgram> _accepted = new(); // programs Runs checked
    private readonly Dictionary<RetrievalRouting, ForwardProgram> _retrievalPrograms = []; // DecodeAsync's, by routing
    private StepBuffers? _p;          // activations, sized for the largest step so far
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
        _maxBundleRows = w.Manifest.ExpertGrids.Max(g => g.BundleRows);
        _maxPageRows = w.Manifest.Tensors.Max(t => t.RowsPerPage);
        _program = ForwardProgram.Build(w.Manifest);
        Routing = new RoutingStats(_h.Layers, _h.Experts);
    }

    /// <summary>Whether rows of <paramref name="program"/> can run in this pass's steps: a program of this model (the
    /// same operators; only how Experts picks pages may differ).</summary>
    public bool Runs(ForwardProgram program)
    {
        if (program == _program || _accepted.TryGetValue(program, out _)) return true;
        var same = program.Operators.Count == _program.Operators.Count;
        for (var i = 0; same && i < program.Operators.Count; i++)
            same = program.Operators[i].Kind == _program.Operators[i].Kind && program.Operators[i].Layer == _program.Operators[i].Layer;
        if (same) _accepted.AddOrUpdate(program, program);
        return same;
    }

    /// <summary>Which experts the router chose, per layer, since the pass was created (or last reset).</summary>
    public RoutingStats Routing { get; }

    public HyperParameters Hyper => _h;

    /// <summary>The weights the pass reads (it owns them: disposing the pass closes their page store).</summary>
    public ModelWeights Weights => _w;

    /// <summary>Hands the pass's hidden states to <paramref name="observer"/> (in place of the one it was opened with)
    /// until the result is disposed: a measurement on a served model's pass, run while nothing else uses it (the
    /// scheduler's RunAloneAsync).</summary>
    public IDisposable Observing(IForwardObserver observer)
    {
        var before = _observer;
        _observer = observer;
        return new Restore(() => _observer = before);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>Opens <paramref name="model"/>'s weights from the catalog and reads what every step needs resident (norms,
    /// routers, the output norm); with <paramref name="device"/>, uploads the dense matrices that fit its budget, whose
    /// products then run there, and gives what the budget has left to the VRAM expert cache. The weights are closed again
    /// when that fails.</summary>
    /// <param name="observer">Sees the hidden states as they are computed (measurements); null for none.</param>
    /// <param name="interleave">Hold Q4_K/Q5_K/Q6_K matrix pages interleaved in RAM (<see cref="InterleavedPageForm"/>);
    /// false holds them as stored.</param>
    public static async Task<ForwardPass> OpenAsync(ModelCatalog catalog, string model, PageStoreOptions options,
        CancellationToken ct = default, IForwardObserver? observer = null, bool interleave = true, DeviceTier? device = null)
    {
        var w = ModelWeights.Open(catalog, model, options, interleave);
        try
        {
            Families.Recipe(w.Manifest); // refuse unknown families before reading anything
            var layers = new LayerWeights[w.Manifest.Hyper.Layers];
            for (var l = 0; l < layers.Length; l++) layers[l] = await LayerWeights.LoadAsync(w, l, ct).ConfigureAwait(false);
            var norm = await LayerWeights.ReadF32Async(w, w.Tensor("output_norm"), ct).ConfigureAwait(false);
            var pass = new ForwardPass(w, layers, norm, observer);
            if (device is not null)
                pass._device = await DeviceMatrices.UploadAsync(w, [.. layers.SelectMany(x => x.WholeProducts()), pass._output],
                    w.Manifest.ExpertGrids, device, MaxBatchRows, ct).ConfigureAwait(false);
            return pass;
        }
        catch
        {
            w.Dispose();
            throw;
        }
    }

    /// <summary>The dense matrices resident in VRAM, or null when the CPU runs every product.</summary>
    public DeviceMatrices? Device => _device;

    /// <summary>A sequence is done with <paramref name="cache"/>: what the device holds of it (its KV cache's mirror in
    /// VRAM) is freed now. Called between steps, by the pass's one caller.</summary>
    public void Release(KvCache cache)
    {
        if (_device is not null) RunOnDevice(0, d => d.Kv.Release(cache));
    }

    /// <summary>Frees the resident matrices and closes the weights' page store. The caller makes sure no step is running.</summary>
    public void Dispose()
    {
        _device?.Dispose();
        _w.Dispose();
    }

    /// <summary>Runs <paramref name="token"/> at the cache's next position (a step of one row); returns the logits
    /// [vocab] (a buffer reused by the next step).</summary>
    public ValueTask<float[]> DecodeAsync(int token, KvCache cache, CancellationToken ct = default) => DecodeAsync(token, cache, null, null, ct);

    /// <summary>The same, the token's expert pages chosen by <paramref name="retrieval"/> from <paramref name="index"/>
    /// (null: the router's top-k).</summary>
    public async ValueTask<float[]> DecodeAsync(int token, KvCache cache, RetrievalRouting? retrieval, PageIndex? index, CancellationToken ct = default) =>
        (await StepAsync([new StepRow(token, cache, cache.Length, Program: retrieval is null ? null : RetrievalProgram(retrieval), Index: index)],
            [0], ct).ConfigureAwait(false))[0];

    private ForwardProgram RetrievalProgram(RetrievalRouting retrieval)
    {
        lock (_retrievalPrograms)
        {
            if (!_retrievalPrograms.TryGetValue(retrieval, out var program))
                _retrievalPrograms[retrieval] = program = ForwardProgram.Build(_w.Manifest, retrieval);
            return program;
        }
    }

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
                var rows = Enumerable.Range(0, n).Select(i => new StepRow(tokens[start + i], cache, cache.Length + i, Phase: StepPhase.Prefill)).ToArray();
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

    /// <summary>Runs one step and returns the logits [vocab] of the rows listed in <paramref name="logitRows"/>, in
    /// that order (buffers reused by the next step: a fresh 128 KB array per row per step is a large-object allocation
    /// that costs a serving loop its garbage collections). Each cache's rows must continue it: positions Length,
    /// Length+1, ... On failure every cache is left as it was.</summary>
    public async ValueTask<float[][]> StepAsync(IReadOnlyList<StepRow> rows, IReadOnlyList<int> logitRows, CancellationToken ct = default)
    {
        CheckRows(rows);
        using var _ = Enter();
        var lengths = rows.Select(r => r.Cache).Distinct().Select(c => (Cache: c, c.Length)).ToArray();
        try
        {
            var logits = await RunAsync(rows[0].Program ?? _program, rows, logitRows, ct).ConfigureAwait(false);
            foreach (var row in logits) CheckFinite(row);
            return logits;
        }
        catch
        {
            foreach (var (cache, length) in lengths) cache.Length = length;
            throw;
        }
    }

    private void CheckRows(IReadOnlyList<StepRow> rows)
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
            if (r.Retrieval is not null) RequireIndex(r);
            if (r.Program is { } program && !Runs(program))
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"a row's plan was made for another model than '{_w.Manifest.Name}' (or another version of it): plan it again");
            next[r.Cache] = expected + 1;
        }
    }

    /// <summary>Runs the program's operators over the step's n rows: X [n, dim] is the residual stream, Xb its
    /// normalised copy that each sub-block reads, O and Moe the sub-blocks' outputs added back. Returns the logits of
    /// <paramref name="logitRows"/>.</summary>
    private async ValueTask<float[][]> RunAsync(ForwardProgram program, IReadOnlyList<StepRow> rows, IReadOnlyList<int> logitRows, CancellationToken ct)
    {
        var n = rows.Count;
        var p = Buffers(n);
        var dim = _h.Dim;
        var measured = false;
        for (var i = 0; i < n && !measured; i++) measured = rows[i].Actuals is not null;
        _reads = measured ? _tally : null;
        if (_device is not null) RunOnDevice(0, d => d.Kv.BeginStep());
        float[][] logits = [];
        for (var o = 0; o < program.Operators.Count; o++)
        {
            var op = program.Operators[o];
            var (start, waits) = measured ? (Stopwatch.GetTimestamp(), _w.PageWaits) : default;
            _reads?.Clear();
            _work = null;
            _products = default;
            var layer = op.Layer >= 0 ? _layers[op.Layer] : null;
            switch (op.Kind)
            {
                case OperatorKind.Embed:
                    for (var i = 0; i < n; i++)
                    {
                        _tally.IndexBase = i; // each row's page read apart, for the statements' figures (when measured)
                        await EmbedAsync(rows[i].Token, p.X.AsMemory(i * dim, dim), ct).ConfigureAwait(false);
                    }
                    break;
                case OperatorKind.Attention:
                    Normalize(layer!.AttnNorm, n);
                    if (op.Variant == OperatorVariant.Latent) await LatentAttentionAsync(layer, op.Layer, rows, p.Xb, p.O, ct).ConfigureAwait(false);
                    else await AttentionAsync(layer, op.Layer, rows, ct).ConfigureAwait(false);
                    VectorOps.Add(p.O.AsSpan(0, n * dim), p.X.AsSpan(0, n * dim));
                    break;
                case OperatorKind.Prediction:
                    await PrefetchNextExpertsAsync(op.Layer, p.X, rows, ct).ConfigureAwait(false);
                    break;
                case OperatorKind.FfnNorm:
                    Normalize(layer!.FfnNorm, n);
                    if (_observer is { } observer)
                        for (var i = 0; i < n; i++)
                        {
                            observer.FfnResidual(op.Layer, p.X.AsSpan(i * dim, dim));
                            observer.FfnInput(op.Layer, p.Xb.AsSpan(i * dim, dim));
                        }
                    break;
                case OperatorKind.Router:
                    await RouteAsync(layer!, layer!.Experts!, rows, ct).ConfigureAwait(false);
                    break;
                case OperatorKind.Experts:
                    await ExpertsAsync(layer!.Experts!, rows, ct).ConfigureAwait(false);
                    break;
                case OperatorKind.SharedExpert:
                    await SharedExpertAsync(layer!, n, ct).ConfigureAwait(false);
                    break;
                case OperatorKind.DenseFfn:
                    await DenseFfnAsync(layer!, n, ct).ConfigureAwait(false);
                    break;
                case OperatorKind.FinalNorm:
                    for (var i = 0; i < logitRows.Count; i++)
                        RmsNorm.Compute(p.X.AsSpan(logitRows[i] * dim, dim), _outputNorm, (float)_h.NormEps, p.Xb.AsSpan(i * dim, dim));
                    break;
                case OperatorKind.LmHead:
                    logits = await RowLogitsAsync(logitRows.Count, ct).ConfigureAwait(false);
                    break;
                case OperatorKind.Sample:
                    continue; // the caller samples from the logits
            }
            if (op.EndsLayer) VectorOps.Add(p.Moe.AsSpan(0, n * dim), p.X.AsSpan(0, n * dim));
            if (measured) Attribute(op, rows, logitRows, start, waits);
        }
        for (var i = 0; i < n; i++) rows[i].Cache.Length = Math.Max(rows[i].Cache.Length, rows[i].Position + 1);
        return logits;
    }

    /// <summary>The step's buffers, regrown when a step has more rows than any before it.</summary>
    private StepBuffers Buffers(int n) =>
        _p is { } held && held.N >= n ? held : _p = new StepBuffers(_h, Math.Max(n, _p?.N ?? 1), _maxBundleRows, _maxPageRows);

    /// <summary>Xb[i] = RmsNorm(X[i]) · weight for the n rows; for one row, also the input its sub-block's matrices
    /// multiply (quantised once for all of them).</summary>
    private void Normalize(float[] weight, int n)
    {
        var p = _p!;
        var dim = _h.Dim;
        for (var i = 0; i < n; i++) RmsNorm.Compute(p.X.AsSpan(i * dim, dim), weight, (float)_h.NormEps, p.Xb.AsSpan(i * dim, dim));
        if (n == 1) p.XbInput.Set(p.Xb.AsSpan(0, dim));
    }

    private ValueTask EmbedAsync(int token, Memory<float> x, CancellationToken ct) =>
        _w.StreamPagesAsync(_embedding.PageOfRow(token), 1, (_, page) => _embedding.Row(page, token, x.Span), ct, _reads);

    /// <summary>Xb → q, k, v → (q/k norm) → RoPE → each row's cache → causal attention → output projection into O.
    /// Every row writes its key and value into its own cache first, then attends over its cache up to its own position
    /// (rows of one prompt chunk see each other in order).</summary>
    private async ValueTask AttentionAsync(LayerWeights layer, int l, IReadOnlyList<StepRow> rows, CancellationToken ct)
    {
        var p = _p!;
        var n = rows.Count;
        var qDim = _h.Heads * _h.HeadDim;
        var kvDim = _h.KvHeads * _h.HeadDim;
        if (_device is null || !OnDevice([layer.Q!, layer.K!, layer.V!], p.Xb, n, [p.Q, p.K, p.V]))
        {
            await ProjectXbAsync(layer.Q!, n, p.Q, ct).ConfigureAwait(false);
            await ProjectXbAsync(layer.K!, n, p.K, ct).ConfigureAwait(false);
            await ProjectXbAsync(layer.V!, n, p.V, ct).ConfigureAwait(false);
        }
        for (var i = 0; i < n; i++)
        {
            var (cache, pos) = (rows[i].Cache, rows[i].Position);
            PositionQueryAndKey(layer, p.Q.AsSpan(i * qDim, qDim), p.K.AsSpan(i * kvDim, kvDim), p.V.AsSpan(i * kvDim, kvDim), pos);
            cache.Write(l, pos, p.K.AsSpan(i * kvDim, kvDim), p.V.AsSpan(i * kvDim, kvDim));
        }
        if (AttendOnDevice(layer, l, rows)) return;
        if (n == 1)
        {
            // One row: its heads run on the kernel threads at once, each over its own row of scores.
            var seen = rows[0].Position + 1;
            rows[0].Cache.Attend(l, seen, p.Q.AsSpan(0, qDim), _h.Heads, _h.KvHeads, _h.HeadDim, p.Att.AsSpan(0, qDim), p.AttScratch(_h.Heads, seen));
        }
        else
        {
            // Rows attend independently (each over its own cache), so the rows are spread over the kernel threads.
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
        }
        await ProjectAsync(layer.O, p.Att, n, p.O, ct).ConfigureAwait(false);
    }

    /// <summary>The rows' attention and output projection into O on the device, over their caches mirrored in VRAM
    /// (<see cref="DeviceMatrices.Attend"/>), when the output matrix is resident there; false leaves both to the CPU
    /// (no device, the matrix not resident, a sequence's cache without room, or a device failure).</summary>
    private bool AttendOnDevice(LayerWeights layer, int l, IReadOnlyList<StepRow> rows)
    {
        if (_device is null) return false;
        var p = _p!;
        if (_device.Holds(layer.O)
            && RunOnDevice(d => d.Attend(l, rows, p.Q, _h.Heads, _h.KvHeads, _h.HeadDim, layer.O, p.O), new ProductCounts(1, 0, AttendedOnDevice: 1)))
            return true;
        _products += new ProductCounts(0, 0, AttendedOnCpu: 1);
        return false;
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

    /// <summary>The output projection of the first <paramref name="count"/> rows of Xb (FinalNorm put the rows whose
    /// logits are wanted there).</summary>
    private async ValueTask<float[][]> RowLogitsAsync(int count, CancellationToken ct)
    {
        var p = _p!;
        var vocab = _h.Vocab;
        if (count == 0) return [];
        if (count == 1)
        {
            var y = p.RowLogits(0, vocab);
            await ProjectAsync(_output, p.Xb, 1, y, ct).ConfigureAwait(false);
            return [y];
        }
        var logits = p.Logits(count * vocab); // reused: a fresh [rows, vocab] array per step is a large-object allocation
        await ProjectAsync(_output, p.Xb, count, logits, ct).ConfigureAwait(false);
        var result = new float[count][];
        for (var i = 0; i < count; i++) logits.AsSpan(i * vocab, vocab).CopyTo(result[i] = p.RowLogits(i, vocab));
        return result;
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

    /// <summary>Y[n, w.Rows] = Xb[n, dim] · wᵀ: on the device when w is resident there, else one row through its
    /// prepared input (<see cref="Normalize"/>).</summary>
    private ValueTask ProjectXbAsync(DenseWeight w, int n, float[] y, CancellationToken ct) =>
        OnDevice(w, _p!.Xb, n, y) ? default : n == 1 ? MatVecAsync(w, _p!.XbInput, y, ct) : MatMulAsync(w, _p!.Xb, n, y, ct);

    /// <summary>Y[n, w.Rows] = X[n, w.Cols] · wᵀ for any other input (attention's output, an FFN's hidden rows, latent
    /// attention's vectors, the final norm's rows): on the device when w is resident there.</summary>
    private ValueTask ProjectAsync(DenseWeight w, float[] x, int n, float[] y, CancellationToken ct)
    {
        if (OnDevice(w, x, n, y)) return default;
        if (n > 1) return MatMulAsync(w, x, n, y, ct);
        var input = _p!.Input(w.Cols);
        input.Set(x.AsSpan(0, w.Cols));
        return MatVecAsync(w, input, y, ct);
    }

    /// <summary>Runs the product on the device and returns true when <paramref name="w"/> is resident there. A device
    /// that fails (lost, out of memory, a driver fault) is given up for the rest of the pass's life and the product runs
    /// on the CPU, now and from then on; EXPLAIN says why. With a device, each product counts where it ran for EXPLAIN
    /// ANALYZE.</summary>
    private bool OnDevice(DenseWeight w, float[] x, int n, float[] y)
    {
        if (_device is null) return false;
        if (_device.Holds(w) && RunOnDevice(1, d => d.Product(w, x, n, y))) return true;
        _products += new ProductCounts(0, 1);
        return false;
    }

    /// <summary>Several products of one input on the device in one round trip (<see cref="DeviceMatrices.Products"/>)
    /// when every matrix is resident there; false leaves them to the caller, product by product.</summary>
    private bool OnDevice(DenseWeight[] ws, float[] x, int n, float[][] ys) =>
        _device is { } device && ws.All(device.Holds) && RunOnDevice(ws.Length, d => d.Products(ws, x, n, ys));

    /// <summary>Runs <paramref name="work"/> (<paramref name="products"/> matrix products) on the device unless it was
    /// given up; a failure gives it up for the rest of the pass's life and returns false (the caller runs the products
    /// on the CPU).</summary>
    private bool RunOnDevice(int products, Action<DeviceMatrices> work) => RunOnDevice(d =>
    {
        work(d);
        return true;
    }, new ProductCounts(products, 0));

    /// <summary>As above for <paramref name="work"/> that may decline (returns false, having done nothing: the caller
    /// runs it on the CPU); <paramref name="done"/> is what it counts when it ran.</summary>
    private bool RunOnDevice(Func<DeviceMatrices, bool> work, ProductCounts done)
    {
        if (_device is not { Failure: null } device) return false;
        try
        {
            if (!work(device)) return false;
            _products += done;
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            device.Fail(e);
            return false;
        }
    }

    /// <summary>y = w · x. A tensor of several pages: every page whose read has completed is computed in one job over
    /// the kernel threads (all of them at once for a tensor in RAM), the rest as they land.</summary>
    private ValueTask MatVecAsync(DenseWeight w, MatVecInput x, float[] y, CancellationToken ct) =>
        w.PageCount == 1
            ? _w.StreamAsync(w, (i, page) => w.MatVecPage(i, page, x, y), ct, _reads)
            : _w.StreamPagesUnorderedAsync(w.PageIds, ModelWeights.UnorderedInFlight, (indices, pages) => w.MatVecPages(indices, pages, x, y), ct, _reads);

    /// <summary>Y[n, Rows] = X[n, Cols] · Wᵀ, streamed page by page.</summary>
    private ValueTask MatMulAsync(DenseWeight w, float[] x, int n, float[] y, CancellationToken ct) =>
        _w.StreamAsync(w, (i, page) => w.MatMulPage(i, page, x.AsSpan(0, n * w.Cols), n, y, _p!.PageScratch), ct, _reads);
}
