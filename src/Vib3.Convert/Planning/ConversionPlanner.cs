using System.Globalization;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>Matches a checkpoint's tensors against its family descriptor and decides how to store them.</summary>
public static class ConversionPlanner
{
    public static ConversionPlan Plan(
        ICheckpointReader reader, FamilyDescriptor family, HyperParameters hyper, bool gguf, DType? target, int? pageRows)
    {
        var dims = Dimensions(hyper);
        var dense = new List<DenseTensorPlan>();
        foreach (var pattern in family.Tensors)
        {
            var layers = pattern.PerLayer ? hyper.Layers : 1;
            for (var l = 0; l < layers; l++)
            {
                var name = Expand(pattern.Name, l);
                var sourceName = Expand(gguf ? pattern.Gguf : pattern.Hf, l);
                if (!reader.Tensors.TryGetValue(sourceName, out var source))
                {
                    if (pattern.Optional) continue;
                    throw new Vib3Exception(SqlState.UndefinedObject,
                        $"{reader.Path}: missing tensor '{sourceName}' ({family.Family} needs it as {name})");
                }
                var shape = pattern.Shape.Select(e => (long)ShapeExpression.Evaluate(e, n => dims.GetValueOrDefault(n))).ToArray();
                CheckShape(reader, source, shape, string.Join(", ", pattern.Shape));
                var keepF32 = shape.Length == 1 || pattern.Role == "router";
                var type = keepF32 ? DType.F32 : target ?? source.DType;
                dense.Add(new DenseTensorPlan(name, pattern.Role, source, shape, type));
            }
        }

        var experts = new (ExpertMatrix, ExpertMatrix, ExpertMatrix)[hyper.Layers][];
        for (var l = 0; l < hyper.Layers; l++)
        {
            experts[l] = new (ExpertMatrix, ExpertMatrix, ExpertMatrix)[hyper.Experts];
            for (var e = 0; e < hyper.Experts; e++)
            {
                experts[l][e] = (
                    Expert(reader, family.Experts.Gate, gguf, l, e, hyper.ExpertHidden, hyper.Dim, hyper.Experts),
                    Expert(reader, family.Experts.Up, gguf, l, e, hyper.ExpertHidden, hyper.Dim, hyper.Experts),
                    Expert(reader, family.Experts.Down, gguf, l, e, hyper.Dim, hyper.ExpertHidden, hyper.Experts));
            }
        }

        var sourceType = experts[0][0].Item1.Type;
        var expertType = target ?? sourceType;
        var q8 = expertType == DType.Q8_0 || experts.Any(layer => layer.Any(x =>
            x.Item1.Type == DType.Q8_0 || x.Item2.Type == DType.Q8_0 || x.Item3.Type == DType.Q8_0));
        if (q8)
        {
            RequireBlocks(reader, "hidden size", hyper.Dim);
            RequireBlocks(reader, "expert hidden size", hyper.ExpertHidden);
            foreach (var t in dense.Where(t => t.Target == DType.Q8_0))
                RequireBlocks(reader, $"row length of {t.Name}", (int)t.Cols);
        }
        var widestRow = dense.Max(t => t.Target.ByteCount(t.Cols));
        var geometry = PageGeometry.Choose(expertType, hyper.Dim, hyper.ExpertHidden, q8 ? DTypes.Q8BlockSize : 1, widestRow, pageRows);
        return new ConversionPlan
        {
            Family = family,
            Hyper = hyper,
            Dense = dense,
            Experts = experts,
            ExpertType = expertType,
            SourceType = sourceType,
            Geometry = geometry,
        };
    }

    private static ExpertMatrix Expert(
        ICheckpointReader reader, FamilyDescriptor.ExpertPattern pattern, bool gguf, int layer, int expert, long rows, long cols, int experts)
    {
        var name = Expand(gguf ? pattern.Gguf : pattern.Hf, layer, expert);
        if (!reader.Tensors.TryGetValue(name, out var t))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{reader.Path}: missing expert tensor '{name}'");
        if (!gguf)
        {
            CheckShape(reader, t, [rows, cols], "expert");
            return new ExpertMatrix(t, 0, rows, cols);
        }
        CheckShape(reader, t, [experts, rows, cols], "experts, expert");
        return new ExpertMatrix(t, expert * t.DType.ByteCount(rows * cols), rows, cols);
    }

    private static void CheckShape(ICheckpointReader reader, SourceTensor source, long[] expected, string formula)
    {
        if (Squeeze(source.Shape).SequenceEqual(Squeeze(expected))) return;
        throw new Vib3Exception(SqlState.InvalidParameterValue,
            $"{source.FilePath}: tensor '{source.Name}' has shape {Show(source.Shape)} but the model's config says {Show(expected)} ([{formula}])");
    }

    private static void RequireBlocks(ICheckpointReader reader, string what, int n)
    {
        if (n % DTypes.Q8BlockSize != 0)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{reader.Path}: q8_0 needs the {what} ({n}) to be a multiple of {DTypes.Q8BlockSize}");
    }

    /// <summary>[1, n] and [n] describe the same data (HF stores the shared-expert gate as [1, dim], GGUF as [dim]).</summary>
    private static IEnumerable<long> Squeeze(long[] shape) => shape.SkipWhile((d, i) => d == 1 && i < shape.Length - 1);

    private static string Show(long[] shape) => "[" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    private static string Expand(string pattern, int layer, int expert = 0) =>
        pattern.Replace("{l}", layer.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
               .Replace("{e}", expert.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static Dictionary<string, double?> Dimensions(HyperParameters h) => new()
    {
        ["layers"] = h.Layers, ["dim"] = h.Dim, ["heads"] = h.Heads, ["kvHeads"] = h.KvHeads, ["headDim"] = h.HeadDim,
        ["vocab"] = h.Vocab, ["experts"] = h.Experts, ["topK"] = h.TopK, ["expertHidden"] = h.ExpertHidden,
        ["sharedExpertHidden"] = h.SharedExpertHidden,
    };
}
