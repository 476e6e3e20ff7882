using System.Globalization;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>One weight of a stored model as a user names it: a dense tensor of the manifest, or one of the three
/// matrices of a layer's routed experts (llama.cpp's ffn_gate_exps / ffn_up_exps / ffn_down_exps, which vib3 stores
/// interleaved in bundle pages). <paramref name="Layer"/> is null for tensors outside the blocks (embedding, output).</summary>
public sealed record StoredTensor(string Name, int? Layer, string Role, DType DType, long[] Shape, long Parameters, long Bytes)
{
    /// <summary>Stored bits per parameter of this tensor.</summary>
    public double BitsPerWeight => Parameters == 0 ? 0 : Bytes * 8.0 / Parameters;

    /// <summary>"4 x 256 x 512", outermost first.</summary>
    public string ShapeText => string.Join(" x ", Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
}

/// <summary>What one element type holds across a model: its tensors, parameters and stored bytes.</summary>
public sealed record TypeShare(DType DType, int Tensors, long Parameters, long Bytes)
{
    public double BitsPerWeight => Parameters == 0 ? 0 : Bytes * 8.0 / Parameters;
}

/// <summary>Each weight's type and size, read from a manifest alone: what vib3 models / info, vib3_tensors and
/// vib3_layers show of a file whose tensors mix types (llama.cpp's Q4_K_M keeps some down matrices in Q6_K, the router
/// in f32, ...).</summary>
public static class StoredTensors
{
    /// <summary>The dense tensors in manifest order, then each MoE layer's gate, up and down expert matrices.</summary>
    public static IReadOnlyList<StoredTensor> Of(ModelManifest m)
    {
        var list = new List<StoredTensor>(m.Tensors.Count + 3 * m.ExpertGrids.Count);
        foreach (var t in m.Tensors)
        {
            var type = DTypes.Parse(t.DType);
            var parameters = t.Shape.Aggregate(1L, (a, d) => a * d);
            list.Add(new StoredTensor(t.Name, LayerOf(t.Name), t.Role, type, t.Shape, parameters, type.ByteCount(parameters)));
        }
        foreach (var g in m.ExpertGrids)
        {
            var (gateUp, down) = (g.GateUpType(), g.DownType());
            var parameters = (long)g.Experts * g.ExpertHidden * g.Dim;
            long[] upShape = [g.Experts, g.ExpertHidden, g.Dim], downShape = [g.Experts, g.Dim, g.ExpertHidden];
            // Bytes as the bundles store them: each expert's rows whole, and down cut into whole-block column slices.
            var gateUpBytes = g.Experts * gateUp.ByteCount((long)g.ExpertHidden * g.Dim);
            var downBytes = g.Experts * (long)g.Dim * Enumerable.Range(0, g.BundlesPerExpert).Sum(b => down.ByteCount(g.RowsInBundle(b)));
            list.Add(new StoredTensor($"blk.{g.Layer}.ffn_gate_exps", g.Layer, "expert_gate", gateUp, upShape, parameters, gateUpBytes));
            list.Add(new StoredTensor($"blk.{g.Layer}.ffn_up_exps", g.Layer, "expert_up", gateUp, upShape, parameters, gateUpBytes));
            list.Add(new StoredTensor($"blk.{g.Layer}.ffn_down_exps", g.Layer, "expert_down", down, downShape, parameters, downBytes));
        }
        return list;
    }

    /// <summary>Per element type, the most parameters first.</summary>
    public static IReadOnlyList<TypeShare> ByType(IEnumerable<StoredTensor> tensors) =>
        tensors.GroupBy(t => t.DType)
            .Select(g => new TypeShare(g.Key, g.Count(), g.Sum(t => t.Parameters), g.Sum(t => t.Bytes)))
            .OrderByDescending(s => s.Parameters).ThenBy(s => s.DType)
            .ToList();

    /// <summary>Stored bytes × 8 over parameters, over every weight of the model.</summary>
    public static double BitsPerWeight(IReadOnlyList<StoredTensor> tensors)
    {
        var parameters = tensors.Sum(t => t.Parameters);
        return parameters == 0 ? 0 : tensors.Sum(t => t.Bytes) * 8.0 / parameters;
    }

    /// <summary>The matrices' types, honestly: "q8_0" when every matrix has one type, else the type holding the most
    /// parameters and the others, e.g. "q4_k (mixed: q6_k, f32)". Vectors (norms, biases) are always f32 and left out.</summary>
    public static string TypeLabel(IReadOnlyList<StoredTensor> tensors)
    {
        var matrices = ByType(tensors.Where(t => t.Shape.Length > 1));
        if (matrices.Count == 0) return "";
        var label = matrices[0].DType.Name();
        return matrices.Count == 1 ? label : $"{label} (mixed: {string.Join(", ", matrices.Skip(1).Select(s => s.DType.Name()))})";
    }

    /// <summary>Bits per weight as vib3 prints them: two decimals, invariant culture.</summary>
    public static string FormatBits(double bits) => bits.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>N of a "blk.N." name, or null outside the blocks.</summary>
    private static int? LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return null;
        var end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : null;
    }
}
