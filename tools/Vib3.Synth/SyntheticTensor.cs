using Vib3.Core;

namespace Vib3.Synth;

public enum SyntheticTensorKind
{
    /// <summary>A 2-D weight matrix (embedding, projections, experts, lm head).</summary>
    Matrix,
    /// <summary>An RMSNorm scale (values near 1).</summary>
    Norm,
    /// <summary>A bias vector.</summary>
    Bias,
    /// <summary>The MoE router (gate) matrix [experts, dim]; llama.cpp keeps it F32.</summary>
    Router,
}

/// <summary>One tensor of the HF checkpoint: its name, numpy-order shape and role.</summary>
public sealed record SyntheticTensor(string Name, long[] Shape, SyntheticTensorKind Kind)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>One tensor of the GGUF file: name, numpy-order shape (ne reversed), stored type, and how it is
/// made from HF tensors: <see cref="Sources"/> stacked in order (one source = a plain copy), rows
/// permuted for llama Q/K when <see cref="PermuteHeads"/> is non-zero.</summary>
public sealed record SyntheticGgufTensor(
    string Name, long[] Shape, DType DType, SyntheticTensorKind Kind, IReadOnlyList<string> Sources, int PermuteHeads)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
