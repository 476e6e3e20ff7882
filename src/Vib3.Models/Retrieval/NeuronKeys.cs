using System.Numerics.Tensors;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>What neuron keys to build: the key type (a block type with a matrix-vector kernel) and whether up rows are
/// kept beside the gate rows.</summary>
public sealed record NeuronKeySpec(DType Type, bool Up)
{
    /// <summary>CREATE INDEX's default: q4_0 gate and up rows, the best at ≤ 2 % perplexity in docs/retrieval.md's
    /// router-first table (q3_k is smaller but predicts worse; gate rows alone predict far worse), and any hidden size
    /// a multiple of 32 takes them.</summary>
    public static readonly NeuronKeySpec Default = new(DType.Q4_0, Up: true);

    /// <summary>The types neuron keys may be: q8_0, q4_0, and the 256-value super-block q2_k and q3_k (for a hidden size that is a multiple of 256).</summary>
    public static readonly DType[] Types = [DType.Q8_0, DType.Q4_0, DType.Q3_K, DType.Q2_K];

    public string Name => NeuronKeyLayer.NameOf(Type, Up);

    /// <summary>Every spec, by name (gate_q8_0, gate_up_q4_0, ...).</summary>
    public static IEnumerable<NeuronKeySpec> All => Types.SelectMany(t => new[] { new NeuronKeySpec(t, false), new NeuronKeySpec(t, true) });
}

/// <summary>Builds <see cref="NeuronKeyLayer"/>s from a model's expert pages (CREATE INDEX does, beside the page keys),
/// and predicts with them.</summary>
public static class NeuronKeys
{
    /// <summary>Expert <paramref name="expert"/>'s predicted neuron contributions [hidden] for the FFN input
    /// <paramref name="x"/>: |silu(gate key · x) · (up key · x)| · ‖W_down[:, i]‖ with up keys, |silu(gate key · x)| ·
    /// ‖W_up[i]‖ · ‖W_down[:, i]‖ without. <paramref name="scratch"/>: [hidden], for the up values.</summary>
    public static void Predict(this NeuronKeyLayer keys, int expert, ReadOnlySpan<float> x, Span<float> predicted, Span<float> scratch)
    {
        var (hidden, rowBytes) = (keys.Hidden, keys.RowBytes);
        var rows = new Range(expert * hidden * rowBytes, (expert + 1) * hidden * rowBytes);
        MatVec.Compute(keys.KeyType, keys.Gate.AsSpan(rows), hidden, keys.Dim, x, predicted);
        if (keys.HasUp) MatVec.Compute(keys.KeyType, keys.Up.AsSpan(rows), hidden, keys.Dim, x, scratch);
        var weights = keys.Weight.AsSpan(expert * hidden, hidden);
        for (var i = 0; i < hidden; i++)
        {
            var g = predicted[i];
            var silu = g / (1f + MathF.Exp(-g));
            predicted[i] = MathF.Abs(keys.HasUp ? silu * scratch[i] : silu) * weights[i];
        }
    }

    public static async Task<IReadOnlyList<NeuronKeyLayer>> BuildAsync(ModelWeights w, NeuronKeySpec spec, CancellationToken ct = default)
    {
        var keyType = spec.Type;
        if (!NeuronKeySpec.Types.Contains(keyType)) throw new ArgumentOutOfRangeException(nameof(spec), keyType, "not a neuron key type");
        var result = new List<NeuronKeyLayer>();
        foreach (var grid in w.ExpertGrids.Values.OrderBy(g => g.Layer))
        {
            var (dim, hidden) = (grid.Dim, grid.ExpertHidden);
            if (dim % keyType.BlockSize() != 0)
                throw new Vib3Exception(SqlState.FeatureNotSupported,
                    $"neuron keys {spec.Name} need a hidden size that is a multiple of {keyType.BlockSize()}, and model '{w.Manifest.Name}''s is {dim} (use gate_q8_0 or gate_q4_0)");
            var rowBytes = (int)keyType.ByteCount(dim);
            var gateKeys = new byte[grid.Experts * hidden * rowBytes];
            var upKeys = spec.Up ? new byte[gateKeys.Length] : [];
            var weights = new float[grid.Experts * hidden];
            var gate = new float[grid.BundleRows * dim]; // [r, dim]
            var up = new float[grid.BundleRows * dim];   // [r, dim]
            var down = new float[dim * grid.BundleRows]; // [dim, r]
            await w.StreamPagesAsync(grid.FirstPage, grid.Experts * grid.BundlesPerExpert, (i, page) =>
            {
                var (e, b) = (i / grid.BundlesPerExpert, i % grid.BundlesPerExpert);
                var r = grid.RowsInBundle(b);
                var bytes = w.StoredBytes(grid.FirstPage + i, page);
                PageKeys.Dequantise(grid, bytes, r, gate, up);
                var rowsBytes = (int)grid.GateUpType().ByteCount((long)r * dim);
                DTypeConvert.ToF32(grid.DownType(), bytes[(2 * rowsBytes)..], down.AsSpan(0, dim * r));
                for (var c = 0; c < r; c++)
                {
                    var neuron = e * hidden + b * grid.BundleRows + c;
                    DTypeConvert.FromF32(keyType, gate.AsSpan(c * dim, dim), gateKeys.AsSpan(neuron * rowBytes, rowBytes));
                    if (spec.Up) DTypeConvert.FromF32(keyType, up.AsSpan(c * dim, dim), upKeys.AsSpan(neuron * rowBytes, rowBytes));
                    double downSquares = 0;
                    for (var d = 0; d < dim; d++) downSquares += (double)down[d * r + c] * down[d * r + c];
                    weights[neuron] = (float)Math.Sqrt(downSquares) * (spec.Up ? 1f : TensorPrimitives.Norm(up.AsSpan(c * dim, dim)));
                }
            }, ct).ConfigureAwait(false);
            result.Add(new NeuronKeyLayer(grid.Layer, grid.Experts, hidden, dim, keyType, gateKeys, upKeys, weights));
        }
        return result;
    }
}
