using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>A dense tensor to copy: source bytes, the type to store, and its canonical entry. <paramref name="View"/>,
/// when set, says how the stored rows derive from a source in another layout (null: a plain row copy).</summary>
public sealed record DenseTensorPlan(string Name, string Role, SourceTensor Source, long[] Shape, DType Target, TensorView? View = null)
{
    public long Rows => Shape.Length == 1 ? 1 : Shape[0];

    public long Cols => Shape[^1];
}

/// <summary>One expert matrix inside a source tensor (HF: a whole tensor; GGUF: a slice of the stacked 3-D tensor).</summary>
public sealed record ExpertMatrix(SourceTensor Tensor, long Offset, long Rows, long Cols)
{
    public DType Type => Tensor.DType;

    public long RowBytes => Type.ByteCount(Cols);
}

/// <summary>Everything a conversion will write, decided before a byte is written: names and shapes checked
/// against the hyper-parameters, dtypes chosen, page geometry fixed.</summary>
public sealed class ConversionPlan
{
    public required FamilyDescriptor Family { get; init; }
    public required HyperParameters Hyper { get; init; }
    public required IReadOnlyList<DenseTensorPlan> Dense { get; init; }
    /// <summary>[layer][expert] → (gate [ff, dim], up [ff, dim], down [dim, ff]).</summary>
    public required (ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down)[][] Experts { get; init; }
    /// <summary>The model's dtype: the first expert layer's gate/up type (every layer's, unless a quantised GGUF mixes).</summary>
    public required DType ExpertType { get; init; }
    /// <summary>[layer] → the types that layer's expert pages store (null for a layer without experts).</summary>
    public required (DType GateUp, DType Down)?[] LayerExpertTypes { get; init; }
    /// <summary>The experts' source element type as the manifest names it ("f8_e4m3" for block-scaled float8).</summary>
    public required string SourceType { get; init; }
    public required PageGeometry Geometry { get; init; }
    /// <summary>The order the experts' neurons are written in (--page-layout coact); null: as trained.</summary>
    public Vib3.Models.Retrieval.NeuronOrder? NeuronOrder { get; init; }

    public long DenseRowsPerPage(DenseTensorPlan t) =>
        Math.Max(1, Math.Min(t.Rows, Geometry.MaxPageBytes / t.Target.ByteCount(t.Cols)));

    public int BundlesPerExpert => (Hyper.ExpertHidden + Geometry.BundleRows - 1) / Geometry.BundleRows;

    public long TotalPageBytes
    {
        get
        {
            long total = Dense.Sum(t => t.Target.ByteCount(t.Rows * t.Cols));
            foreach (var t in LayerExpertTypes)
                if (t is { } types)
                    total += (long)Hyper.Experts * ExpertGridEntry.BundleBytes(types.GateUp, types.Down, Hyper.Dim, Hyper.ExpertHidden);
            return total;
        }
    }
}
