using System.Globalization;
using Vib3.Core;

namespace Vib3.Convert.Planning;

/// <summary>What the per-tensor rules of a llama.cpp mix need to know about the model.</summary>
/// <param name="Layers">Transformer blocks (llama.cpp's n_layer).</param>
/// <param name="Experts">Routed experts per MoE layer (0 or 1 for a dense model).</param>
/// <param name="Heads">Query heads.</param>
/// <param name="KvHeads">Key/value heads (n_gqa = Heads / KvHeads).</param>
/// <param name="TiedEmbeddings">No output.weight: the token embedding is also the output projection.</param>
public readonly record struct MixShape(int Layers, int Experts, int Heads, int KvHeads, bool TiedEmbeddings)
{
    public int GroupedQueryRatio => KvHeads > 0 ? Heads / KvHeads : 1;
}

/// <summary>
/// llama.cpp's quantisation mixes (llama-quantize Q2_K, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_M, IQ4_XS without an importance matrix):
/// the type each tensor gets, decided as llama-quant.cpp's llama_tensor_get_type decides it, from the tensor's GGUF
/// name (its category), its layer, its row length and the model's shape. Restated rule by rule from that function's
/// behaviour for these six mixes; the branches for other mixes, for Falcon and for importance matrices are left out.
/// <list type="number">
/// <item>The mix has a default type (Q2_K, Q3_K, Q4_K, Q4_K, Q5_K, IQ4_XS); tensors no rule below names get it.</item>
/// <item>output.weight — and token_embd.weight when the model has no output.weight — gets Q6_K, or Q8_0 when its rows
/// are not a multiple of the default type's block.</item>
/// <item>attn_v (also attn_qkv, attn_kv_b): Q2_K → Q4_K if n_head/n_head_kv ≥ 4, else Q3_K; Q3_K_M → Q5_K in the first
/// two layers, else Q4_K; Q4_K_M and Q5_K_M → Q6_K in the layers <see cref="UseMoreBits"/> picks; Q4_K_S → Q5_K in the
/// first four layers; IQ4_XS → Q5_K if n_head/n_head_kv ≥ 4. A model with exactly 8 experts gets Q8_0 whatever the mix. (llama.cpp counts attn_v tensors in
/// file order, which is layer order.)</item>
/// <item>attn_k: Q8_0 in a model with exactly 8 experts.</item>
/// <item>ffn_down (dense, shared-expert and routed-expert alike): Q2_K → Q3_K; Q3_K_M → Q5_K in the first 1/16 of the
/// layers, else Q4_K; Q4_K_M and Q5_K_M → Q6_K in the <see cref="UseMoreBits"/> layers; Q4_K_S → Q5_K in the first
/// 1/8 of the layers; IQ4_XS → Q5_K in the first 1/8 of the layers.</item>
/// <item>attn_output: with exactly 8 experts, Q5_K for Q2_K, Q3_K_M, Q4_K_S, Q4_K_M and IQ4_XS; otherwise Q2_K → Q3_K and
/// Q3_K_M → Q4_K.</item>
/// <item>Fallback, last: a type whose block does not divide the row length becomes Q4_0 (for Q2_K, Q3_K), Q5_0 (Q4_K),
/// Q5_1 (Q5_K), Q8_0 (Q6_K) or IQ4_NL (IQ4_XS; vib3 reads IQ4_NL but does not write it, so the planner refuses such a
/// tensor), and F16 if that block does not divide it either.</item>
/// </list>
/// Not applied: llama.cpp's bump of attn_v to Q5_K for Llama-2/3-70B-sized dense models (vib3 converts MoE families).
/// Which tensors are quantised at all (2-D weights; not norms, not the router) is the converter's rule, the same one.
/// </summary>
public sealed class LlamaCppMix
{
    private enum Kind { Q2_K, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_M, IQ4_XS }

    private readonly Kind _kind;

    private LlamaCppMix(Kind kind, string name, DType defaultType)
    {
        _kind = kind;
        Name = name;
        DefaultType = defaultType;
    }

    /// <summary>The --dtype spelling: q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_m, iq4_xs.</summary>
    public string Name { get; }

    /// <summary>The type of every tensor no rule names.</summary>
    public DType DefaultType { get; }

    private static readonly LlamaCppMix[] All =
    [
        new(Kind.Q2_K, "q2_k", DType.Q2_K),
        new(Kind.Q3_K_M, "q3_k_m", DType.Q3_K),
        new(Kind.Q4_K_S, "q4_k_s", DType.Q4_K),
        new(Kind.Q4_K_M, "q4_k_m", DType.Q4_K),
        new(Kind.Q5_K_M, "q5_k_m", DType.Q5_K),
        new(Kind.IQ4_XS, "iq4_xs", DType.IQ4_XS),
    ];

    /// <summary>"q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_m, iq4_xs".</summary>
    public static string Names => string.Join(", ", All.Select(m => m.Name));

    public static bool TryParse(string name, out LlamaCppMix mix)
    {
        var key = name.Trim().ToLowerInvariant();
        mix = All.FirstOrDefault(m => m.Name == key)!;
        return mix is not null;
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third layer between.</summary>
    public static bool UseMoreBits(int layer, int layers) =>
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>The type of the 2-D tensor <paramref name="ggufName"/> (e.g. "blk.3.attn_v.weight"; the layer is read
    /// from it) whose rows hold <paramref name="rowLength"/> values.</summary>
    public DType TypeOf(string ggufName, long rowLength, MixShape shape)
    {
        var layer = LayerOf(ggufName);
        var type = ggufName switch
        {
            "output.weight" => OutputType(rowLength),
            "token_embd.weight" when shape.TiedEmbeddings => OutputType(rowLength),
            _ when Has(ggufName, "attn_qkv.weight") || Has(ggufName, "attn_kv_b.weight") || Has(ggufName, "attn_v.weight") =>
                AttentionV(layer, shape),
            _ when Has(ggufName, "attn_k.weight") => shape.Experts == 8 ? DType.Q8_0 : DefaultType,
            _ when Has(ggufName, "attn_q.weight") => DefaultType,
            _ when Has(ggufName, "attn_output.weight") => AttentionOutput(shape),
            _ when Has(ggufName, "ffn_up") || Has(ggufName, "ffn_gate") => DefaultType,
            _ when Has(ggufName, "ffn_down") => FfnDown(layer, shape.Layers),
            _ => DefaultType,
        };
        return Fallback(type, rowLength);
    }

    private DType OutputType(long rowLength) =>
        rowLength % DefaultType.BlockSize() != 0 ? DType.Q8_0 : DType.Q6_K;

    private DType AttentionV(int layer, MixShape shape)
    {
        if (shape.Experts == 8) return DType.Q8_0;
        return _kind switch
        {
            Kind.Q2_K => shape.GroupedQueryRatio >= 4 ? DType.Q4_K : DType.Q3_K,
            Kind.Q3_K_M => layer < 2 ? DType.Q5_K : DType.Q4_K,
            Kind.Q4_K_M or Kind.Q5_K_M when UseMoreBits(layer, shape.Layers) => DType.Q6_K,
            Kind.Q4_K_S when layer < 4 => DType.Q5_K,
            Kind.IQ4_XS when shape.GroupedQueryRatio >= 4 => DType.Q5_K,
            _ => DefaultType,
        };
    }

    private DType FfnDown(int layer, int layers) => _kind switch
    {
        Kind.Q2_K => DType.Q3_K,
        Kind.Q3_K_M => layer < layers / 16 ? DType.Q5_K : DType.Q4_K,
        Kind.Q4_K_M or Kind.Q5_K_M when UseMoreBits(layer, layers) => DType.Q6_K,
        Kind.Q4_K_S or Kind.IQ4_XS when layer < layers / 8 => DType.Q5_K,
        _ => DefaultType,
    };

    private DType AttentionOutput(MixShape shape)
    {
        if (shape.Experts == 8)
            return _kind is Kind.Q5_K_M ? DefaultType : DType.Q5_K;
        return _kind switch
        {
            Kind.Q2_K => DType.Q3_K,
            Kind.Q3_K_M => DType.Q4_K,
            _ => DefaultType,
        };
    }

    /// <summary>llama.cpp's tensor_type_fallback for the types these mixes choose.</summary>
    private static DType Fallback(DType type, long rowLength)
    {
        if (rowLength % type.BlockSize() == 0) return type;
        var smaller = type switch
        {
            DType.Q2_K or DType.Q3_K => DType.Q4_0,
            DType.Q4_K => DType.Q5_0,
            DType.Q5_K => DType.Q5_1,
            DType.Q6_K => DType.Q8_0,
            DType.IQ4_XS => DType.IQ4_NL,
            _ => DType.F16,
        };
        return rowLength % smaller.BlockSize() == 0 ? smaller : DType.F16;
    }

    private static bool Has(string name, string part) => name.Contains(part, StringComparison.Ordinal);

    /// <summary>The n of "blk.n.", or −1 for a tensor outside the blocks.</summary>
    private static int LayerOf(string ggufName)
    {
        if (!ggufName.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        var end = ggufName.IndexOf('.', 4);
        return end > 4 && int.TryParse(ggufName.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : -1;
    }
}
