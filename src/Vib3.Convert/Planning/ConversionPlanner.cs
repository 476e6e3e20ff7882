using System.Globalization;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Models.Retrieval;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>Matches a checkpoint's tensors against its family descriptor and decides how to store them.
/// Every source tensor must be used or explicitly ignored: a tensor vib3 does not understand could change
/// what the model computes, so it is an error, not something to drop silently.</summary>
public static class ConversionPlanner
{
    public static ConversionPlan Plan(
        ICheckpointReader reader, FamilyDescriptor family, HyperParameters hyper, bool gguf, DType? target, int? pageRows) =>
        Plan(reader, family, hyper, gguf, new StorageTypes(All: target), pageRows);

    public static ConversionPlan Plan(
        ICheckpointReader reader, FamilyDescriptor family, HyperParameters hyper, bool gguf, StorageTypes types, int? pageRows,
        NeuronOrder? order = null)
    {
        types.RequireWritable();
        var dims = Dimensions(hyper);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var dense = new List<DenseTensorPlan>();
        foreach (var pattern in family.Tensors)
        {
            if (!Applies(pattern.When, dims)) continue;
            var layers = pattern.PerLayer ? hyper.Layers : 1;
            for (var l = 0; l < layers; l++)
            {
                if (pattern.PerLayer && !InLayer(pattern.Layers, hyper, l)) continue;
                var name = Expand(pattern.Name, l);
                var sourceName = Expand(gguf ? pattern.Gguf : pattern.Hf, l);
                var view = gguf ? null : pattern.HfView;
                if (gguf && !reader.Tensors.ContainsKey(sourceName) && pattern.GgufAlternative is { } alternative)
                    (sourceName, view) = (Expand(alternative, l), pattern.GgufAlternativeView);
                if (!reader.Tensors.TryGetValue(sourceName, out var source))
                {
                    if (pattern.Optional) continue;
                    if (pattern.TiedTo is not null && (gguf || hyper.TiedEmbeddings))
                    {
                        hyper.TiedEmbeddings = true;
                        continue;
                    }
                    throw new Vib3Exception(SqlState.UndefinedObject,
                        $"{reader.Path}: missing tensor '{sourceName}' ({family.Family} needs it as {name}" +
                        (pattern.TiedTo is not null ? "; config.json does not say tie_word_embeddings" : "") + ")");
                }
                used.Add(sourceName);
                var shape = pattern.Shape.Select(e => (long)ShapeExpression.Evaluate(e, n => dims.GetValueOrDefault(n))).ToArray();
                var tensorView = TensorViews.Parse(view, hyper);
                CheckShape(source, tensorView?.SourceShape ?? shape, tensorView is null ? string.Join(", ", pattern.Shape) : tensorView.SourceFormula);
                // The type is chosen below, once it is known whether the model has its own output projection.
                dense.Add(new DenseTensorPlan(name, pattern.Role, source, Matrix(shape), DefaultTarget(source), tensorView));
            }
        }
        hyper.TiedEmbeddings = dense.All(t => t.Role != "lm_head");
        var mixShape = new MixShape(hyper.Layers, hyper.Experts, hyper.Heads, hyper.KvHeads, hyper.TiedEmbeddings);
        for (var i = 0; i < dense.Count; i++)
        {
            var t = dense[i];
            var keepF32 = t.Shape.Length == 1 || t.Role == "router";
            dense[i] = t with { Target = keepF32 ? DType.F32 : types.DenseType(t.Name, t.Cols, mixShape) ?? t.Target };
        }

        var experts = new (ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down)[hyper.Layers][];
        for (var l = 0; l < hyper.Layers; l++)
        {
            experts[l] = new (ExpertMatrix, ExpertMatrix, ExpertMatrix)[hyper.IsMoeLayer(l) ? hyper.Experts : 0];
            for (var e = 0; e < experts[l].Length; e++)
            {
                experts[l][e] = (
                    Expert(reader, family.Experts.Gate, gguf, l, e, hyper.ExpertHidden, hyper.Dim, hyper.Experts, used),
                    Expert(reader, family.Experts.Up, gguf, l, e, hyper.ExpertHidden, hyper.Dim, hyper.Experts, used),
                    Expert(reader, family.Experts.Down, gguf, l, e, hyper.Dim, hyper.ExpertHidden, hyper.Experts, used));
            }
        }
        CheckAllUsed(reader, family, hyper, used);

        var chosen = Enumerable.Range(0, hyper.Layers).Select(l => types.ExpertTypes(l, hyper.Dim, hyper.ExpertHidden, mixShape)).ToArray();
        var keepSourceTypes = chosen.All(t => t is null);
        var sourceType = SingleExpertType(reader, experts, keepSourceTypes);
        var layerTypes = LayerExpertTypes(experts, chosen, DefaultTarget(sourceType));
        var expertType = layerTypes.First(t => t is not null)!.Value.GateUp;
        RequireEncodable(reader, types, dense, experts, layerTypes);
        // Expert bundles cut gate and up by whole rows (dim values each) and down by columns (its rows of expert hidden
        // values are sliced R at a time): every gate/up type's block, source or target, must divide the hidden size, and
        // every down type's block the expert hidden size and the bundle rows.
        var expertMatrices = experts.SelectMany(layer => layer).ToList();
        var gateUpTypes = expertMatrices.SelectMany(x => new[] { x.Gate.Type, x.Up.Type })
            .Concat(layerTypes.Where(t => t is not null).Select(t => t!.Value.GateUp));
        var downTypes = expertMatrices.Select(x => x.Down.Type).Concat(layerTypes.Where(t => t is not null).Select(t => t!.Value.Down));
        var widestGateUp = gateUpTypes.MaxBy(t => t.BlockSize());
        var widestDown = downTypes.MaxBy(t => t.BlockSize());
        RequireBlocks(reader, "hidden size", hyper.Dim, widestGateUp);
        RequireBlocks(reader, "expert hidden size", hyper.ExpertHidden, widestDown);
        foreach (var t in dense)
            RequireBlocks(reader, $"row length of {t.Name}", (int)t.Cols,
                t.Target.BlockSize() >= t.Source.DType.BlockSize() ? t.Target : t.Source.DType);
        var widestRow = dense.Max(t => t.Target.ByteCount(t.Cols));
        var widestBundle = layerTypes.Where(t => t is not null).Select(t => t!.Value)
            .MaxBy(t => ExpertGridEntry.BundleBytes(t.GateUp, t.Down, hyper.Dim, hyper.ExpertHidden));
        var geometry = PageGeometry.Choose(widestBundle.GateUp, widestBundle.Down, hyper.Dim, hyper.ExpertHidden, widestDown.BlockSize(), widestRow, pageRows);
        if (order is not null) RequireOrderable(reader, hyper, expertMatrices, geometry, order);
        return new ConversionPlan
        {
            Family = family,
            Hyper = hyper,
            Dense = dense,
            Experts = experts,
            ExpertType = expertType,
            LayerExpertTypes = layerTypes,
            SourceType = sourceType.TypeName,
            Geometry = geometry,
            NeuronOrder = order,
        };
    }

    internal static Vib3Exception UnorderableDown(string path, DType source) => new(SqlState.FeatureNotSupported,
        $"{path}: --page-layout coact reorders the experts' neurons, and their down matrices are {source.Name()} in the source, " +
        "whose blocks cannot be split into single columns (convert from an f32, f16 or bf16 checkpoint)");

    /// <summary>A neuron order moves single down columns, which only an element type (f32, f16, bf16) can give: a
    /// block type's column shares its block's scale with its neighbours.</summary>
    private static void RequireOrderable(ICheckpointReader reader, HyperParameters hyper, List<(ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down)> experts,
        PageGeometry geometry, NeuronOrder order)
    {
        if (experts.Select(x => x.Down.Type).Where(t => t.IsBlocked()).Select(t => (DType?)t).FirstOrDefault() is { } blocked)
            throw UnorderableDown(reader.Path, blocked);
        var layers = Enumerable.Range(0, hyper.Layers).Where(hyper.IsMoeLayer).ToList();
        if (order.Mismatch(layers, hyper.Experts, hyper.ExpertHidden, geometry.BundleRows) is { } why)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{reader.Path}: the neuron order does not fit this model: {why}");
    }

    /// <summary>What a matrix is stored as without --dtype: its source type, bit-exact, except float8, which vib3 cannot
    /// store (no float8 kernels): its dequantised values become bf16, as DeepSeek's own fp8_cast_bf16 makes them.</summary>
    private static DType DefaultTarget(SourceTensor source) => source.Float8 ? DType.BF16 : source.DType;

    /// <summary>Without --dtype, experts are stored as their source types. One layer's expert pages hold gate and up in
    /// one type and down in one type (possibly another), so those must agree across the layer's experts; across layers,
    /// and between gate/up and down, block types may differ as llama.cpp's mixes make them (Q4_K_M keeps some layers'
    /// down in Q6_K). Any other mix (e.g. f16 and f32 experts) needs an explicit --dtype rather than a silent
    /// conversion. Returns the first expert tensor.</summary>
    private static SourceTensor SingleExpertType(ICheckpointReader reader, (ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down)[][] experts, bool keepSourceTypes)
    {
        var all = experts.SelectMany(layer => layer.SelectMany(x => new[] { x.Gate.Tensor, x.Up.Tensor, x.Down.Tensor })).ToList();
        var first = all[0];
        if (!keepSourceTypes) return first;
        foreach (var layer in experts.Where(layer => layer.Length > 0))
        {
            var (gate, down) = (layer[0].Gate.Tensor, layer[0].Down.Tensor);
            if (layer.SelectMany(x => new[] { x.Gate.Tensor, x.Up.Tensor }).FirstOrDefault(t => t.TypeName != gate.TypeName) is { } g)
                throw Mixed(reader, gate, g);
            if (layer.Select(x => x.Down.Tensor).FirstOrDefault(t => t.TypeName != down.TypeName) is { } d)
                throw Mixed(reader, down, d);
        }
        if (all.FirstOrDefault(t => t.TypeName != first.TypeName && !(t.DType.IsBlocked() && first.DType.IsBlocked())) is { } other)
            throw Mixed(reader, first, other);
        return first;
    }

    private static Vib3Exception Mixed(ICheckpointReader reader, SourceTensor a, SourceTensor b) =>
        new(SqlState.FeatureNotSupported,
            $"{reader.Path}: expert tensors mix dtypes ('{a.Name}' is {a.TypeName}, '{b.Name}' is {b.TypeName}); pass --dtype to choose one");

    /// <summary>[layer] → the types its expert pages store (null for a layer without experts): the chosen types where
    /// storage types choose them, else each layer's source types (a float source as <paramref name="floatTarget"/>).</summary>
    private static (DType GateUp, DType Down)?[] LayerExpertTypes((ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down)[][] experts,
        (DType GateUp, DType Down)?[] chosen, DType floatTarget) =>
        experts.Select((layer, l) => layer.Length == 0 ? ((DType, DType)?)null
            : chosen[l] ?? (layer[0].Gate.Type.IsBlocked() ? (layer[0].Gate.Type, layer[0].Down.Type) : (floatTarget, floatTarget))).ToArray();

    /// <summary>A mix may pick a type vib3 reads but cannot encode (IQ4_XS falls back to IQ4_NL on rows that are not
    /// whole 256-value blocks): refused before anything is written, naming the tensor. Copying a source's own type
    /// needs no encoder.</summary>
    private static void RequireEncodable(ICheckpointReader reader, StorageTypes types, List<DenseTensorPlan> dense,
        (ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down)[][] experts, (DType GateUp, DType Down)?[] layerTypes)
    {
        var targets = dense.Select(t => (t.Name, RowLength: t.Cols, t.Source.DType, t.Target))
            .Concat(experts.SelectMany((layer, l) => layer.Take(1).SelectMany(x => new[]
            {
                ($"blk.{l}.ffn_gate_exps", x.Gate.Cols, x.Gate.Type, layerTypes[l]!.Value.GateUp),
                ($"blk.{l}.ffn_down_exps", x.Down.Cols, x.Down.Type, layerTypes[l]!.Value.Down),
            })));
        foreach (var (name, rowLength, source, target) in targets)
            if (target != source && !target.IsWritable())
                throw new Vib3Exception(SqlState.FeatureNotSupported,
                    $"{reader.Path}: {types.Requested} stores {name} (rows of {rowLength} values) as {target.Name()}, llama.cpp's choice for " +
                    $"rows that are not whole blocks of its type, which vib3 reads but does not write (it writes {DTypes.WritableNames})");
    }

    private static void CheckAllUsed(ICheckpointReader reader, FamilyDescriptor family, HyperParameters hyper, HashSet<string> used)
    {
        var ignored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pattern in family.Ignore)
            for (var l = 0; l < hyper.Layers; l++)
                ignored.Add(Expand(pattern, l));
        // Multi-token-prediction layers follow the main ones (DeepSeek-V3's layer 61): not converted, and said so.
        var mtp = family.MtpLayerPrefix is { } prefix
            ? Enumerable.Range(hyper.Layers, hyper.SkippedMtpLayers).Select(l => Expand(prefix, l)).ToList()
            : [];
        var unknown = reader.Tensors.Keys.Where(n => !used.Contains(n) && !ignored.Contains(n) && !mtp.Any(p => n.StartsWith(p, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal).ToList();
        if (unknown.Count == 0) return;
        throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{reader.Path}: {unknown.Count} tensor(s) that the {family.Family} descriptor does not know, e.g. '{string.Join("', '", unknown.Take(3))}' " +
            "(vib3 would ignore what they do; is this a variant of the architecture?)");
    }

    private static ExpertMatrix Expert(
        ICheckpointReader reader, FamilyDescriptor.ExpertPattern pattern, bool gguf, int layer, int expert,
        long rows, long cols, int experts, HashSet<string> used)
    {
        var stacked = gguf ? Expand(pattern.Gguf, layer) : null;
        if (stacked is not null && reader.Tensors.TryGetValue(stacked, out var all))
        {
            CheckShape(all, [experts, rows, cols], "experts, expert");
            used.Add(stacked);
            return new ExpertMatrix(all, expert * all.DType.ByteCount(rows * cols), rows, cols);
        }
        var perExpert = gguf ? pattern.GgufPerExpert : pattern.Hf;
        var name = perExpert is null ? stacked! : Expand(perExpert, layer, expert);
        if (perExpert is null || !reader.Tensors.TryGetValue(name, out var t))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{reader.Path}: missing expert tensor '{name}'");
        CheckShape(t, [rows, cols], "expert");
        used.Add(name);
        return new ExpertMatrix(t, 0, rows, cols);
    }

    /// <summary>"qLoraRank": the tensor exists when that hyper-parameter is non-zero; "!qLoraRank": when it is zero.</summary>
    private static bool Applies(string? when, Dictionary<string, double?> dims)
    {
        if (when is null) return true;
        var negate = when.StartsWith('!');
        var name = negate ? when[1..] : when;
        if (!dims.TryGetValue(name, out var value))
            throw new Vib3Exception(SqlState.DataCorrupted, $"descriptor condition '{when}' names an unknown hyper-parameter");
        return (value.GetValueOrDefault() != 0) != negate;
    }

    private static bool InLayer(string? layers, HyperParameters h, int l) => layers switch
    {
        null => true,
        "dense" => !h.IsMoeLayer(l),
        "moe" => h.IsMoeLayer(l),
        _ => throw new Vib3Exception(SqlState.DataCorrupted, $"descriptor layers '{layers}' is neither dense nor moe"),
    };

    /// <summary>Tensors are stored as matrices: [a, b, c] (per head blocks) becomes [a·b, c].</summary>
    private static long[] Matrix(long[] shape) =>
        shape.Length <= 2 ? shape : [shape[..^1].Aggregate(1L, (a, b) => a * b), shape[^1]];

    private static void CheckShape(SourceTensor source, long[] expected, string formula)
    {
        if (Squeeze(source.Shape).SequenceEqual(Squeeze(expected))) return;
        throw new Vib3Exception(SqlState.InvalidParameterValue,
            $"{source.FilePath}: tensor '{source.Name}' has shape {Show(source.Shape)} but the model's config says {Show(expected)} ([{formula}])");
    }

    private static void RequireBlocks(ICheckpointReader reader, string what, int n, DType type)
    {
        var block = type.BlockSize();
        if (n % block != 0)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{reader.Path}: {type.Name()} blocks of {block} values need the {what} ({n}) to be a multiple of {block}");
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
        ["sharedExpertHidden"] = h.SharedExpertHidden, ["qLoraRank"] = h.QLoraRank, ["kvLoraRank"] = h.KvLoraRank,
        ["qkNopeHeadDim"] = h.QkNopeHeadDim, ["qkRopeHeadDim"] = h.QkRopeHeadDim, ["vHeadDim"] = h.VHeadDim,
        ["denseHidden"] = h.DenseHidden,
    };
}
