using Vib3.Core;

namespace Vib3.Convert.Planning;

/// <summary>
/// What a conversion stores each 2-D weight as, from the command line: <paramref name="All"/> (--dtype TYPE) for every
/// matrix, or <paramref name="Mix"/> (--dtype q4_k_m …) deciding per tensor as llama.cpp does; <paramref name="Experts"/>
/// (--expert-dtype) and <paramref name="Dense"/> (--dense-dtype: attention, shared experts, embeddings, output) override
/// either for their role, so experts can be small for offloading while what every token reads stays precise. Null
/// everywhere keeps each tensor's source type. 1-D tensors and routers stay f32 whatever is asked.
/// </summary>
public sealed record StorageTypes(DType? All = null, LlamaCppMix? Mix = null, DType? Experts = null, DType? Dense = null)
{
    public static StorageTypes AsStored { get; } = new();

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

    /// <summary>The one type every expert matrix is stored in (an expert page holds gate, up and down together), or null
    /// for the source's. A mix gives experts its ffn_gate/ffn_up type for rows of gcd(dim, expert hidden) values —
    /// ffn_down's extra bits in some layers cannot be kept in a single-type page.</summary>
    public DType? ExpertType(int dim, int expertHidden, MixShape shape) =>
        Experts ?? Mix?.TypeOf("blk.0.ffn_gate_exps.weight", GreatestCommonDivisor(dim, expertHidden), shape) ?? All;

    private static long GreatestCommonDivisor(long a, long b) => b == 0 ? a : GreatestCommonDivisor(b, a % b);

    private static void Check(string option, DType? type)
    {
        if (type is not { } wanted || wanted.IsWritable()) return;
        throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{option} {wanted.Name()}: vib3 does not write {wanted.Name()} (it writes {DTypes.WritableNames}, and the mixes {LlamaCppMix.Names}); " +
            $"{wanted.Name()} tensors of a GGUF are kept as they are without --dtype");
    }
}
