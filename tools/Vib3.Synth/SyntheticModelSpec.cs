using Vib3.Core;

namespace Vib3.Synth;

public enum ModelFamily
{
    Mixtral,
    Qwen2Moe,
    Qwen3Moe,
    Olmoe,
}

/// <summary>Shape and seed of a synthetic MoE checkpoint. Defaults give a tiny model that builds in milliseconds.</summary>
public sealed record SyntheticModelSpec
{
    public ModelFamily Family { get; init; } = ModelFamily.Mixtral;
    public int Layers { get; init; } = 2;

    /// <summary>Hidden size (embedding length).</summary>
    public int Dim { get; init; } = 64;

    /// <summary>Intermediate size of one routed expert.</summary>
    public int ExpertHidden { get; init; } = 64;

    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;

    /// <summary>Per-head size; 0 or unset means Dim / Heads.</summary>
    public int HeadDim { get => field > 0 ? field : Dim / Heads; init; }

    public int Experts { get; init; } = 4;
    public int TopK { get; init; } = 2;

    /// <summary>Total vocabulary including the 3 special tokens and 256 byte tokens (at least 259).</summary>
    public int Vocab { get; init; } = 384;

    public int Context { get; init; } = 256;
    public long Seed { get; init; } = 1;

    /// <summary>Stored element type: F32/F16/BF16 for HF; F32/F16/BF16/Q8_0 for GGUF (Q8_0 only for 2-D and
    /// stacked matrices; norms, biases and routers stay F32 as llama.cpp's converter keeps them).</summary>
    public DType DType { get; init; } = DType.F32;

    /// <summary>Intermediate size of Qwen2Moe's shared expert; 0 or unset means 2 × ExpertHidden.</summary>
    public int SharedExpertHidden { get => field > 0 ? field : 2 * ExpertHidden; init; }

    /// <summary>Number of safetensors shards for the HF folder.</summary>
    public int Shards { get; init; } = 1;

    public double RopeTheta { get; init; } = 1_000_000;
    public double NormEps { get; init; } = 1e-5;

    public void Validate()
    {
        static void Check(bool ok, string what)
        {
            if (!ok) throw new Vib3Exception(SqlState.InvalidParameterValue, "synthetic model: " + what);
        }
        Check(Layers >= 1, $"layers must be at least 1, got {Layers}");
        Check(Dim >= 1, $"dim must be positive, got {Dim}");
        Check(ExpertHidden >= 1, $"expert hidden size must be positive, got {ExpertHidden}");
        Check(Heads >= 1 && KvHeads >= 1 && Heads % KvHeads == 0, $"heads ({Heads}) must be a positive multiple of kv heads ({KvHeads})");
        Check(HeadDim >= 2 && HeadDim % 2 == 0, $"head dim must be even and at least 2, got {HeadDim}");
        Check(Experts >= 1 && TopK >= 1 && TopK <= Experts, $"top-k ({TopK}) must be between 1 and experts ({Experts})");
        Check(Vocab >= SyntheticTokenizer.SpecialCount + 256, $"vocab must be at least {SyntheticTokenizer.SpecialCount + 256}, got {Vocab}");
        Check(Context >= 1, $"context must be positive, got {Context}");
        Check(Shards >= 1, $"shards must be at least 1, got {Shards}");
        Check(SharedExpertHidden >= 1, $"shared expert hidden size must be positive, got {SharedExpertHidden}");
        Check(RopeTheta > 0 && NormEps > 0, "rope theta and norm eps must be positive");
    }
}
