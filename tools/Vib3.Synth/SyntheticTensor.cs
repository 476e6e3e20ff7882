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
    /// <summary>DeepSeek-V3's selection-only router bias [experts]: drawn wide enough (±0.3) to change which
    /// experts win, so a reader that ignores it is caught.</summary>
    ScoreBias,
}

/// <summary>Which slice of an HF kv_b_proj [H·(N+V), L] a GGUF tensor holds (llama.cpp's MLA split).</summary>
public enum KvBPart
{
    /// <summary>A plain copy or stack of the sources.</summary>
    None,
    /// <summary>attn_k_b [H, L, N]: the first N rows of each head, transposed.</summary>
    Key,
    /// <summary>attn_v_b [H, V, L]: the last V rows of each head, as they are.</summary>
    Value,
}

/// <summary>One tensor of the HF checkpoint: its name, numpy-order shape and role.</summary>
public sealed record SyntheticTensor(string Name, long[] Shape, SyntheticTensorKind Kind)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>One tensor of the GGUF file: name, numpy-order shape (ne reversed), stored type, and how it is
/// made from HF tensors: <see cref="Sources"/> stacked in order (one source = a plain copy), rows
/// permuted for llama Q/K when <see cref="PermuteHeads"/> is non-zero, or one slice of a kv_b_proj when
/// <see cref="Part"/> is set.</summary>
public sealed record SyntheticGgufTensor(
    string Name, long[] Shape, DType DType, SyntheticTensorKind Kind, IReadOnlyList<string> Sources, int PermuteHeads)
{
    public KvBPart Part { get; init; }

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}
