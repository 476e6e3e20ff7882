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
    private readonly List<(int Start, int Count, DeviceKvCaches.Mirror Mirror)> _runs = []; // Attend's runs of one sequence's rows

    private DeviceMatrices(DeviceTier tier, Dictionary<DenseWeight, DeviceMatrix> resident, IReadOnlySet<string> candidates, DeviceExperts? experts,
        int maxRows)
    {
        Tier = tier;
        Experts = experts;
        _resident = resident;
        CandidateNames = candidates;
        Names = resident.Keys.Select(w => w.Entry.Name).ToHashSet(StringComparer.Ordinal);
        Kv = new DeviceKvCaches(tier);
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
    /// queries q [n, heads·headDim] go up (positioned, their keys and values already written to the caches in RAM), each
    /// sequence's rows attend over its cache's mirror (<see cref="DeviceKvCaches"/>: filled from RAM as far as the rows
    /// see), the outputs feed <paramref name="o"/>'s product, and y [n, o.Rows] comes back. Returns false, having
    /// computed nothing, when a sequence's cache has no room on the device (the CPU attends for the step).</summary>
    public bool Attend(int layer, IReadOnlyList<StepRow> rows, ReadOnlySpan<float> q, int heads, int kvHeads, int headDim, DenseWeight o, Span<float> y)
    {
        var device = Tier.Device;
        device.BindToThread();
        var n = rows.Count;
        var width = heads * headDim;
        _runs.Clear();
        var needed = 0L; // the scores of the largest run: [its rows, heads, its positions]
        for (var start = 0; start < n;)
        {
            var count = 1;
            while (start + count < n && rows[start + count].Cache == rows[start].Cache) count++; // a prompt chunk's rows are one sequence's
            var positions = rows[start + count - 1].Position + 1;
            if (Kv.Rows(rows[start].Cache, layer, positions) is not { } mirror) return false;
            _runs.Add((start, count, mirror));
            needed = Math.Max(needed, (long)count * heads * positions);
            start += count;
        }
        var a = AttentionScratch((long)n * width, (long)n * width, n, needed);
        a.Queries((long)n * width).CopyFromCPU(q[..(n * width)]);
        if (_runs.Count < n) // a run of several rows: each sees its own prefix
        {
            for (var i = 0; i < n; i++) a.VisibleHost[i] = rows[i].Position + 1;
            a.Visible(n).CopyFromCPU(a.VisibleHost.AsSpan(0, n));
        }
        foreach (var (start, count, mirror) in _runs)
        {
            var positions = rows[start + count - 1].Position + 1;
            var queries = a.Queries((long)n * width).SubView((long)start * width, (long)count * width);
            var output = a.Outputs((long)n * width).SubView((long)start * width, (long)count * width);
            var scores = a.Scores((long)count * heads * positions);
            if (count == 1 && mirror.F16)
                GpuAttention.DecodeF16(device, queries, mirror.Keys16(layer, positions), mirror.Values16(layer, positions), positions, heads, kvHeads, headDim, output, scores);
            else if (count == 1)
                GpuAttention.Decode(device, queries, mirror.Keys32(layer, positions), mirror.Values32(layer, positions), positions, heads, kvHeads, headDim, output, scores);
            else if (mirror.F16)
                GpuAttention.Rows(device, queries, count, mirror.Keys16(layer, positions), mirror.Values16(layer, positions), positions,
                    a.Visible(n).SubView(start, count), heads, kvHeads, headDim, output, scores);
            else
                GpuAttention.Rows(device, queries, count, mirror.Keys32(layer, positions), mirror.Values32(layer, positions), positions,
                    a.Visible(n).SubView(start, count), heads, kvHeads, headDim, output, scores);
        }
        var m = _resident[o];
        _input.Set(a.Outputs((long)n * width), n);
        var result = ((ArrayView<float>)_output.View).SubView(0, (long)n * m.Rows);
        GpuMatVec.Compute(device, m.Type, m.Bytes, m.Rows, m.Cols, _input, result);
        result.CopyToCPU(y[..(n * m.Rows)]);
        return true;
    }

    /// <summary>Latent attention (MLA) of one sequence's (row, head) pairs over its latent cache in VRAM: the queries
    /// [pairs, rank + ropeDim] (q_lat | q_rope) and the positions each sees go up, the pairs attend over the cache's
    /// mirror (filled from RAM as far as <paramref name="positions"/>), the weighted latents [pairs, rank] come back
    /// into <paramref name="output"/>. False, having computed nothing, when the cache has no room on the device.</summary>
    public bool AttendLatents(int layer, KvCache cache, int positions, ReadOnlySpan<float> queries, int pairs, ReadOnlySpan<int> visible, int rank,
        int ropeDim, float scale, Span<float> output)
    {
        var device = Tier.Device;
        device.BindToThread();
        if (Kv.Rows(cache, layer, positions) is not { } mirror) return false;
        var width = rank + ropeDim;
        var a = AttentionScratch((long)pairs * width, (long)pairs * rank, pairs, (long)pairs * positions);
        a.Queries((long)pairs * width).CopyFromCPU(queries[..(pairs * width)]);
        visible[..pairs].CopyTo(a.VisibleHost);
        a.Visible(pairs).CopyFromCPU(a.VisibleHost.AsSpan(0, pairs));
        var (outputs, scores) = (a.Outputs((long)pairs * rank), a.Scores((long)pairs * positions));
        if (mirror.F16)
            GpuAttention.AttendLatents(device, mirror.Keys16(layer, positions), positions, rank, ropeDim, a.Queries((long)pairs * width), pairs,
                a.Visible(pairs), scale, outputs, scores);
        else
            GpuAttention.AttendLatents(device, mirror.Keys32(layer, positions), positions, rank, ropeDim, a.Queries((long)pairs * width), pairs,
                a.Visible(pairs), scale, outputs, scores);
        outputs.CopyToCPU(output[..(pairs * rank)]);
        return true;
    }

    /// <summary>The attention scratch, regrown (doubling) when a step needs more than it holds.</summary>
    private AttentionBuffers AttentionScratch(long queries, long outputs, int visible, long scores)
    {
        if (_attention is { } a && a.Holds(queries, outputs, visible, scores)) return a;
        var (q, o, v, s) = _attention is { } old
            ? (Math.Max(queries, 2 * old.QueryCapacity), Math.Max(outputs, 2 * old.OutputCapacity), Math.Max(visible, 2 * old.VisibleHost.Length),
                Math.Max(scores, 2 * old.ScoreCapacity))
            : (queries, outputs, visible, scores);
        _attention?.Dispose();
        return _attention = new AttentionBuffers(Tier.Device, q, o, v, s);
    }

    /// <summary>Attention's scratch on the device: queries, outputs, how many positions each row (or latent query)
    /// sees, and the scores of one launch [its queries, its positions]; sizes in elements.</summary>
    private sealed class AttentionBuffers(GpuDevice device, long queries, long outputs, int visible, long scores) : IDisposable
    {
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _queries = device.Accelerator.Allocate1D<float>(queries);
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _outputs = device.Accelerator.Allocate1D<float>(outputs);
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _visible = device.Accelerator.Allocate1D<int>(visible);
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _scores = device.Accelerator.Allocate1D<float>(scores);

        public long QueryCapacity { get; } = queries;

        public long OutputCapacity { get; } = outputs;

        public long ScoreCapacity { get; } = scores;

        public int[] VisibleHost { get; } = new int[visible];

        public bool Holds(long q, long o, int v, long s) => q <= QueryCapacity && o <= OutputCapacity && v <= VisibleHost.Length && s <= ScoreCapacity;

        public ArrayView<float> Queries(long count) => ((ArrayView<float>)_queries.View).SubView(0, count);

        public ArrayView<float> Outputs(long count) => ((ArrayView<float>)_outputs.View).SubView(0, count);

        public ArrayView<int> Visible(int count) => ((ArrayView<int>)_visible.View).SubView(0, count);

        public ArrayView<float> Scores(long count) => ((ArrayView<float>)_scores.View).SubView(0, count);

        public void Dispose()
        {
            _queries.Dispose();
            _outputs.Dispose();
            _visible.Dispose();
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
