using ILGPU;
using ILGPU.Runtime;
using Vib3.Kernels.Gpu;
using Vib3.Models.Inference;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Device;

/// <summary>The model on the device: its dense matrices that fit the VRAM budget, resident for as long as the model is
/// open, and the products the forward pass runs on them (a step's input rows go to the device, the product runs there,
/// the output rows come back); then, in what the budget has left, the cache of its routed experts' pages
/// (<see cref="Experts"/>). Matrices that did not fit, or whose type has no device kernel, stay with the CPU.</summary>
public sealed class DeviceMatrices : IDisposable
{
    private readonly Dictionary<DenseWeight, DeviceMatrix> _resident; // by reference: one DenseWeight per tensor
    private readonly GpuMatVecInput _input;                           // [rows, widest input]
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _output;   // [rows, widest output]
    private FfnBuffers? _ffn;                                         // SwiGluFfn's, sized for the widest FFN so far
    private MemoryBuffer1D<float, Stride1D.Dense>? _outputs;          // Products' [Σ rows of the matrices, n] outputs, grown as needed
    private float[] _outputsHost = [];                                // their copy in RAM
    private AttentionBuffers? _attention;                             // Attend's and AttendLatents', grown to the largest step so far
    private readonly List<Run> _runs = [];                            // Attend's runs of one sequence's rows
    private readonly GpuStaging _staging;                             // Attend's inputs, one copy a call

    private DeviceMatrices(DeviceTier tier, Dictionary<DenseWeight, DeviceMatrix> resident, IReadOnlySet<string> candidates, DeviceExperts? experts,
        int maxRows)
    {
        Tier = tier;
        Experts = experts;
        _resident = resident;
        CandidateNames = candidates;
        Names = resident.Keys.Select(w => w.Entry.Name).ToHashSet(StringComparer.Ordinal);
        Kv = new DeviceKvCaches(tier);
        _staging = new GpuStaging(tier.Device);
        var inputs = resident.Count == 0 ? 1 : resident.Values.Max(m => m.Cols);
        var outputs = resident.Count == 0 ? 1 : resident.Values.Max(m => m.Rows);
        _input = new GpuMatVecInput(tier.Device, inputs, maxRows);
        _output = tier.Device.Accelerator.Allocate1D<float>((long)maxRows * outputs);
    }

    public DeviceTier Tier { get; }

    /// <summary>The VRAM expert cache; null when the model has no routed experts the device can run, or the budget
    /// had no room left for a slot.</summary>
    public DeviceExperts? Experts { get; }

    /// <summary>The sequences' KV caches mirrored in VRAM, which <see cref="Attend"/> attends over.</summary>
    public DeviceKvCaches Kv { get; }

    /// <summary>Matrices resident on the device.</summary>
    public int Count => _resident.Count;

    /// <summary>Matrices that could have been (the whole-product ones).</summary>
    public int Candidates => CandidateNames.Count;

    /// <summary>Their tensors' names.</summary>
    public IReadOnlySet<string> CandidateNames { get; }

    /// <summary>Store pages of the resident matrices.</summary>
    public long Pages => _resident.Values.Sum(m => (long)m.Pages);

    /// <summary>Device memory the resident matrices take.</summary>
    public long Bytes => _resident.Values.Sum(m => m.SizeBytes);

    /// <summary>Uploads <paramref name="candidates"/> in order while the budget has room, skipping those that do not
    /// fit or whose type has no device kernel; then opens the expert cache over <paramref name="experts"/> in what is left.</summary>
    /// <param name="maxRows">The most rows a step multiplies at once.</param>
    public static async Task<DeviceMatrices> UploadAsync(ModelWeights weights, IReadOnlyList<DenseWeight> candidates,
        IReadOnlyList<ExpertGridEntry> experts, DeviceTier tier, int maxRows, CancellationToken ct)
    {
        var resident = new Dictionary<DenseWeight, DeviceMatrix>(ReferenceEqualityComparer.Instance);
        try
        {
            tier.Device.BindToThread();
            foreach (var w in candidates)
                if (GpuMatVec.Supports(w.Type) && !resident.ContainsKey(w)
                    && await DeviceMatrix.UploadAsync(weights, w, tier, ct).ConfigureAwait(false) is { } matrix)
                    resident[w] = matrix;
            tier.Device.BindToThread(); // the uploads' awaits may have resumed on another thread
            var cache = DeviceExperts.Open(tier, experts, maxRows);
            try
            {
                return new DeviceMatrices(tier, resident, candidates.Select(w => w.Entry.Name).ToHashSet(StringComparer.Ordinal), cache, maxRows);
            }
            catch
            {
                cache?.Dispose();
                throw;
            }
        }
        catch
        {
            tier.Device.BindToThread();
            foreach (var m in resident.Values) m.Dispose();
            throw;
        }
    }

    /// <summary>What the model holds on the device now and what its expert cache has done since the model opened.</summary>
    public VramStats Stats => Experts is { } e
        ? new VramStats(Pages + e.Resident, Bytes + e.Resident * e.SlotBytes, e.Counts, Failure, Kv.Count, Kv.Bytes)
        : new VramStats(Pages, Bytes, default, Failure, Kv.Count, Kv.Bytes);

    public bool Holds(DenseWeight w) => _resident.ContainsKey(w);

    /// <summary>Why the device was given up (a product failed), or null while it works.</summary>
    public string? Failure { get; private set; }

    /// <summary>Gives the device up after <paramref name="error"/>: the pass runs every product on the CPU from now on.</summary>
    public void Fail(Exception error) => Failure ??= $"{error.GetType().Name}: {error.Message.Split('\n', 2)[0].Trim()}";

    /// <summary>The resident tensors' names.</summary>
    public IReadOnlySet<string> Names { get; }

    /// <summary>y[n, w.Rows] = x[n, w.Cols] · wᵀ on the device.</summary>
    public void Product(DenseWeight w, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        var m = _resident[w];
        Tier.Device.BindToThread();
        _input.Set(x[..(n * m.Cols)], n);
        var output = ((ArrayView<float>)_output.View).SubView(0, (long)n * m.Rows);
        GpuMatVec.Compute(Tier.Device, m.Type, m.Bytes, m.Rows, m.Cols, _input, output);
        output.CopyToCPU(y[..(n * m.Rows)]);
    }

    /// <summary>y_i[n, w_i.Rows] = x[n, cols] · w_iᵀ for several resident matrices of one input (attention's q, k and v):
    /// the rows go up once, each product writes its own block, and the blocks come back in one copy.</summary>
    public void Products(IReadOnlyList<DenseWeight> ws, ReadOnlySpan<float> x, int n, IReadOnlyList<float[]> ys)
    {
        var device = Tier.Device;
        device.BindToThread();
        var total = ws.Sum(w => (long)w.Rows) * n;
        if (_outputs is null || _outputs.Length < total)
        {
            _outputs?.Dispose();
            _outputs = device.Accelerator.Allocate1D<float>(total);
        }
        _input.Set(x[..(n * ws[0].Cols)], n);
        var at = 0L;
        foreach (var w in ws)
        {
            var m = _resident[w];
            GpuMatVec.Compute(device, m.Type, m.Bytes, m.Rows, m.Cols, _input, ((ArrayView<float>)_outputs.View).SubView(at, (long)n * m.Rows));
            at += (long)n * m.Rows;
        }
        if (_outputsHost.Length < total) _outputsHost = new float[total];
        ((ArrayView<float>)_outputs.View).SubView(0, total).CopyToCPU(_outputsHost.AsSpan(0, (int)total));
        at = 0;
        for (var i = 0; i < ws.Count; i++)
        {
            var size = n * ws[i].Rows;
            Array.Copy(_outputsHost, at, ys[i], 0, size);
            at += size;
        }
    }

    /// <summary>A step's attention over its sequences' KV caches in VRAM, then the output projection there: the rows'
    /// queries q [n, heads·headDim] (positioned, their keys and values already written to the caches in RAM), the
    /// positions each row sees and the cache rows each sequence's mirror lacks (<see cref="DeviceKvCaches"/>: the new
    /// rows, or more after RAM rewrote some) go up in one copy; each sequence's rows attend over its mirror, the outputs
    /// feed <paramref name="o"/>'s product, and y [n, o.Rows] comes back. Returns false, having computed nothing, when a
    /// sequence's cache has no room on the device (the CPU attends for the step).</summary>
    public bool Attend(int layer, IReadOnlyList<StepRow> rows, ReadOnlySpan<float> q, int heads, int kvHeads, int headDim, DenseWeight o, Span<float> y)
    {
        var device = Tier.Device;
        device.BindToThread();
        var n = rows.Count;
        var width = heads * headDim;
        _runs.Clear();
        _staging.Clear();
        var queriesAt = _staging.Add(q[..(n * width)]);
        var needed = 0L; // the scores of the largest run: [its rows, heads, its positions]
        for (var start = 0; start < n;)
        {
            var count = 1;
            while (start + count < n && rows[start + count].Cache == rows[start].Cache) count++; // a prompt chunk's rows are one sequence's
            var positions = rows[start + count - 1].Position + 1;
            if (!AddRun(rows[start].Cache, layer, positions, start, count)) return false;
            needed = Math.Max(needed, (long)count * heads * positions);
            start += count;
        }
        var visibleAt = -1;
        if (_runs.Count < n) // a run of several rows: each sees its own prefix
        {
            Span<int> visible = stackalloc int[n];
            for (var i = 0; i < n; i++) visible[i] = rows[i].Position + 1;
            visibleAt = _staging.Add<int>(visible);
        }
        _staging.Upload();
        var a = AttentionScratch((long)n * width, needed);
        foreach (var run in _runs)
        {
            run.Fill(_staging, layer);
            var (start, count, mirror, positions) = (run.Start, run.Count, run.Mirror, run.Positions);
            var queries = _staging.View<float>(queriesAt + start * width * sizeof(float), (long)count * width);
            var output = a.Outputs((long)n * width).SubView((long)start * width, (long)count * width);
            var scores = a.Scores((long)count * heads * positions);
            if (count == 1 && mirror.F16)
                GpuAttention.DecodeF16(device, queries, mirror.Keys16(layer, positions), mirror.Values16(layer, positions), positions, heads, kvHeads, headDim, output, scores);
            else if (count == 1)
                GpuAttention.Decode(device, queries, mirror.Keys32(layer, positions), mirror.Values32(layer, positions), positions, heads, kvHeads, headDim, output, scores);
            else if (mirror.F16)
                GpuAttention.Rows(device, queries, count, mirror.Keys16(layer, positions), mirror.Values16(layer, positions), positions,
                    _staging.View<int>(visibleAt + start * sizeof(int), count), heads, kvHeads, headDim, output, scores);
            else
                GpuAttention.Rows(device, queries, count, mirror.Keys32(layer, positions), mirror.Values32(layer, positions), positions,
                    _staging.View<int>(visibleAt + start * sizeof(int), count), heads, kvHeads, headDim, output, scores);
        }
        var m = _resident[o];
        _input.Set(a.Outputs((long)n * width), n);
        var result = ((ArrayView<float>)_output.View).SubView(0, (long)n * m.Rows);
        GpuMatVec.Compute(device, m.Type, m.Bytes, m.Rows, m.Cols, _input, result);
        result.CopyToCPU(y[..(n * m.Rows)]);
        return true;
    }

    /// <summary>Latent attention (MLA) of one sequence's (row, head) pairs over its latent cache in VRAM: the queries
    /// [pairs, rank + ropeDim] (q_lat | q_rope), the positions each sees and the latent rows the cache's mirror lacks go
    /// up in one copy, the pairs attend over the mirror, the weighted latents [pairs, rank] come back into
    /// <paramref name="output"/>. False, having computed nothing, when the cache has no room on the device.</summary>
    public bool AttendLatents(int layer, KvCache cache, int positions, ReadOnlySpan<float> queries, int pairs, ReadOnlySpan<int> visible, int rank,
        int ropeDim, float scale, Span<float> output)
    {
        var device = Tier.Device;
        device.BindToThread();
        var width = rank + ropeDim;
        _runs.Clear();
        _staging.Clear();
        var queriesAt = _staging.Add(queries[..(pairs * width)]);
        var visibleAt = _staging.Add(visible[..pairs]);
        if (!AddRun(cache, layer, positions, 0, pairs)) return false;
        _staging.Upload();
        var run = _runs[0];
        run.Fill(_staging, layer);
        var a = AttentionScratch((long)pairs * rank, (long)pairs * positions);
        var (outputs, scores) = (a.Outputs((long)pairs * rank), a.Scores((long)pairs * positions));
        var (q, seen) = (_staging.View<float>(queriesAt, (long)pairs * width), _staging.View<int>(visibleAt, pairs));
        if (run.Mirror.F16) GpuAttention.AttendLatents(device, run.Mirror.Keys16(layer, positions), positions, rank, ropeDim, q, pairs, seen, scale, outputs, scores);
        else GpuAttention.AttendLatents(device, run.Mirror.Keys32(layer, positions), positions, rank, ropeDim, q, pairs, seen, scale, outputs, scores);
        outputs.CopyToCPU(output[..(pairs * rank)]);
        return true;
    }

    /// <summary>Takes <paramref name="cache"/>'s mirror for a run of <paramref name="count"/> queries seeing up to
    /// <paramref name="positions"/> positions and stages the rows of <paramref name="layer"/> it lacks; false when the
    /// cache has no room on the device.</summary>
    private bool AddRun(KvCache cache, int layer, int positions, int start, int count)
    {
        if (Kv.For(cache, positions) is not { } mirror) return false;
        var (from, missing) = mirror.Missing(layer, positions);
        var (keysAt, valuesAt) = missing == 0 ? (0, 0)
            : (_staging.Add(cache.StoredBytes(true, layer, from, missing)), _staging.Add(cache.StoredBytes(false, layer, from, missing)));
        _runs.Add(new Run(start, count, mirror, positions, from, missing, keysAt, valuesAt, cache.KvDim * (mirror.F16 ? 2 : 4), cache.ValueDim * (mirror.F16 ? 2 : 4)));
        return true;
    }

    /// <summary>One sequence's queries in an attention call: rows [Start, Start + Count) of the step (or of the latent
    /// pairs), seeing up to Positions positions of its mirror, whose rows [From, From + Missing) were staged at KeysAt and
    /// ValuesAt (KeyBytes of key and ValueBytes of value a position).</summary>
    private readonly record struct Run(int Start, int Count, DeviceKvCaches.Mirror Mirror, int Positions, int From, int Missing, int KeysAt,
        int ValuesAt, int KeyBytes, int ValueBytes)
    {
        /// <summary>Stores the staged rows into the mirror (after the staging's upload).</summary>
        public void Fill(GpuStaging staging, int layer) =>
            Mirror.Store(layer, From, Missing, staging.View<byte>(KeysAt, (long)Missing * KeyBytes), staging.View<byte>(ValuesAt, (long)Missing * ValueBytes));
    }

    /// <summary>The attention scratch, regrown (doubling) when a call needs more than it holds.</summary>
    private AttentionBuffers AttentionScratch(long outputs, long scores)
    {
        if (_attention is { } a && outputs <= a.OutputCapacity && scores <= a.ScoreCapacity) return a;
        var (o, s) = _attention is { } old ? (Math.Max(outputs, 2 * old.OutputCapacity), Math.Max(scores, 2 * old.ScoreCapacity)) : (outputs, scores);
        _attention?.Dispose();
        return _attention = new AttentionBuffers(Tier.Device, o, s);
    }

    /// <summary>Attention's scratch on the device: the outputs, and the scores of one launch [its queries, its
    /// positions]; sizes in floats.</summary>
    private sealed class AttentionBuffers(GpuDevice device, long outputs, long scores) : IDisposable
    {
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _outputs = device.Accelerator.Allocate1D<float>(outputs);
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _scores = device.Accelerator.Allocate1D<float>(scores);

        public long OutputCapacity { get; } = outputs;

        public long ScoreCapacity { get; } = scores;

        public ArrayView<float> Outputs(long count) => ((ArrayView<float>)_outputs.View).SubView(0, count);

        public ArrayView<float> Scores(long count) => ((ArrayView<float>)_scores.View).SubView(0, count);

        public void Dispose()
        {
            _outputs.Dispose();
            _scores.Dispose();
        }
    }

    /// <summary>Whether <see cref="SwiGluFfn"/> can run this FFN: its three matrices are resident.</summary>
    public bool HoldsFfn(DenseWeight gate, DenseWeight up, DenseWeight down) => Holds(gate) && Holds(up) && Holds(down);

    /// <summary>y[n, down.Rows] = down · (silu(gate · x) ⊙ (up · x)) on the device: the rows go up once, the gate, up
    /// and hidden rows stay on the device, the output comes back (one round trip where three products take three).</summary>
    public void SwiGluFfn(DenseWeight gate, DenseWeight up, DenseWeight down, ReadOnlySpan<float> x, int n, Span<float> y)
    {
        var (g, u, d) = (_resident[gate], _resident[up], _resident[down]);
        var device = Tier.Device;
        device.BindToThread();
        var hidden = g.Rows;
        if (_ffn is null || _ffn.Hidden < hidden)
        {
            _ffn?.Dispose();
            _ffn = new FfnBuffers(device, hidden, _input.MaxVectors);
        }
        _input.Set(x[..(n * g.Cols)], n);
        var (gateOut, upOut, hiddenOut) = (_ffn.Gate(n, hidden), _ffn.Up(n, hidden), _ffn.HiddenRows(n, hidden));
        GpuMatVec.Compute(device, g.Type, g.Bytes, g.Rows, g.Cols, _input, gateOut);
        GpuMatVec.Compute(device, u.Type, u.Bytes, u.Rows, u.Cols, _input, upOut);
        GpuSwiGlu.Compute(device, gateOut, upOut, hiddenOut, n * hidden);
        _ffn.Input.Set(hiddenOut, n);
        var output = ((ArrayView<float>)_output.View).SubView(0, (long)n * d.Rows);
        GpuMatVec.Compute(device, d.Type, d.Bytes, d.Rows, d.Cols, _ffn.Input, output);
        output.CopyToCPU(y[..(n * d.Rows)]);
    }

    /// <summary>The FFN's rows on the device: gate and up outputs, the hidden rows and them as the down product's input,
    /// each [rows, hidden].</summary>
    private sealed class FfnBuffers(GpuDevice device, int hidden, int rows) : IDisposable
    {
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _gate = device.Accelerator.Allocate1D<float>((long)rows * hidden);
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _up = device.Accelerator.Allocate1D<float>((long)rows * hidden);
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _hidden = device.Accelerator.Allocate1D<float>((long)rows * hidden);

        public int Hidden { get; } = hidden;

        public GpuMatVecInput Input { get; } = new(device, hidden, rows);

        public ArrayView<float> Gate(int n, int width) => ((ArrayView<float>)_gate.View).SubView(0, (long)n * width);

        public ArrayView<float> Up(int n, int width) => ((ArrayView<float>)_up.View).SubView(0, (long)n * width);

        public ArrayView<float> HiddenRows(int n, int width) => ((ArrayView<float>)_hidden.View).SubView(0, (long)n * width);

        public void Dispose()
        {
            _gate.Dispose();
            _up.Dispose();
            _hidden.Dispose();
            Input.Dispose();
        }
    }

    /// <summary>Frees the matrices' memory and gives their budget back (also after a failure: the budget is the
    /// engine's, whatever became of the device).</summary>
    public void Dispose()
    {
        Tier.Device.BindToThread();
        Experts?.Dispose();
        Kv.Dispose();
        _attention?.Dispose();
        _staging.Dispose();
        foreach (var m in _resident.Values) m.Dispose();
        _input.Dispose();
        _output.Dispose();
        _ffn?.Dispose();
        _outputs?.Dispose();
    }
}

/// <summary>A model's VRAM tier: pages and bytes resident (its dense matrices and the expert pages cached), the expert
/// cache's work since the model opened, why the device was given up (null while it works), and its sequences' KV caches
/// in VRAM now (<see cref="DeviceKvCaches"/>).</summary>
public sealed record VramStats(long ResidentPages, long ResidentBytes, DeviceExpertCounts Experts, string? Failure, int KvCaches = 0, long KvBytes = 0);
