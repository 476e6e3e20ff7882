using Vib3.Core;

namespace Vib3.Convert.Planning;

/// <summary>
/// What a conversion stores each 2-D weight as, from the command line: <paramref name="All"/> (--dtype TYPE) for every
/// matrix, or <paramref name="Mix"/> (--dtype q4_k_m …) deciding per tensor as llama.cpp does; <paramref name="Experts"/>
/// (--expert-dtype TYPE) or <paramref name="ExpertMix"/> (--expert-dtype q4_k_m …: the mix's rules for the routed experts
/// only) and <paramref name="Dense"/> (--dense-dtype: attention, shared experts, embeddings, output) override either for
/// their role, so experts can be small for offloading while what every token reads stays precise. Null everywhere keeps
/// each tensor's source type. 1-D tensors and routers stay f32 whatever is asked.
/// </summary>
public sealed record StorageTypes(
    DType? All = null, LlamaCppMix? Mix = null, DType? Experts = null, DType? Dense = null, LlamaCppMix? ExpertMix = null)
{
    public static StorageTypes AsStored { get; } = new();

    /// <summary>What was asked, as the manifest records it: "q4_k_m", "q8_0, experts q4_k_m, dense bf16" …; null when
    /// nothing was (every tensor keeps its source type).</summary>
    public string? Requested
    {
        get
        {
            string?[] parts =
            [
                Mix?.Name ?? All?.Name(),
                (ExpertMix?.Name ?? Experts?.Name()) is { } experts ? "experts " + experts : null,
                Dense is { } dense ? "dense " + dense.Name() : null,
            ];
            var asked = string.Join(", ", parts.OfType<string>());
            return asked.Length > 0 ? asked : null;
        }
    }

    /// <summary>Refuses a type vib3 reads but cannot encode, naming the option that asked for it.</summary>
    public void RequireWritable()
    {
        Check("--dtype", All);
        Check("--expert-dtype", Experts);
        Check("--dense-dtype", Dense);
    }

    /// <summary>The type of dense tensor <paramref name="name"/> (vib3's GGUF-style name, e.g. blk.3.attn_v), or null
    /// for its source type.</summary>
    public DType? DenseType(string name, long rowLength, MixShape shape) =>
        Dense ?? Mix?.TypeOf(name + ".weight", rowLength, shape) ?? All;

    /// <summary>The types layer <paramref name="layer"/>'s expert pages store, or null for the source's. A mix decides
    /// gate/up (rows of <paramref name="dim"/> values) and down (rows of <paramref name="expertHidden"/>) separately, as
    /// llama.cpp decides ffn_gate_exps, ffn_up_exps and ffn_down_exps by layer (Q4_K_M gives some layers' down Q6_K).</summary>
    public (DType GateUp, DType Down)? ExpertTypes(int layer, int dim, int expertHidden, MixShape shape)
    {
        if (Experts is { } one) return (one, one);
        if ((ExpertMix ?? Mix) is { } mix)
            return (mix.TypeOf($"blk.{layer}.ffn_gate_exps.weight", dim, shape),
                    mix.TypeOf($"blk.{layer}.ffn_down_exps.weight", expertHidden, shape));
        return All is { } all ? (all, all) : null;
    }

    private static void Check(string option, DType? type)
    {
        if (type is not { } wanted || wanted.IsWritable()) return;
        throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{option} {wanted.Name()}: vib3 does not write {wanted.Name()} (it writes {DTypes.WritableNames}, and the mixes {LlamaCppMix.Names}); " +
            $"{wanted.Name()} tensors of a GGUF are kept as they are without --dtype");
    }
}
