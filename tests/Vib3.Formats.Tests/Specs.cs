using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

internal static class Specs
{
    /// <summary>The families whose GGUF tensors are plain copies of HF ones; deepseek2 (k_b / v_b derived from kv_b, a
    /// dense layer 0) has its own layout tests (<see cref="Deepseek2LayoutTests"/>).</summary>
    public static readonly ModelFamily[] Families = [.. Enum.GetValues<ModelFamily>().Where(f => f != ModelFamily.Deepseek2)];

    /// <summary>Tiny, but with GQA, a head size unlike dim/heads for qwen3moe, and q8_0-friendly rows.</summary>
    public static SyntheticModelSpec Small(ModelFamily family, DType dtype) => new()
    {
        Family = family, Layers = 2, Dim = 64, ExpertHidden = 96, Heads = 4, KvHeads = 2,
        HeadDim = family == ModelFamily.Qwen3Moe ? 24 : 0,
        Experts = 4, TopK = 2, Vocab = 300, Context = 128, Seed = 11, DType = dtype, SharedExpertHidden = 64,
    };

    public static float[] Decode(DType t, byte[] bytes, long count)
    {
        var v = new float[count];
        DTypeConvert.ToF32(t, bytes, v);
        return v;
    }
}
