using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>ggml tensor type ids as stored in GGUF tensor infos, with names for the error messages.</summary>
public static class GgmlTypes
{
    public const uint F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, BF16 = 30;
    public const uint Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23, TQ1_0 = 34, TQ2_0 = 35;
    public const uint IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ3_S = 21, IQ2_S = 22, IQ1_M = 29;

    /// <summary>The ggml types vib3 reads, each stored as the <see cref="DType"/> with the same block layout.</summary>
    private static readonly Dictionary<uint, DType> Read = new()
    {
        [F32] = DType.F32, [F16] = DType.F16, [BF16] = DType.BF16, [Q8_0] = DType.Q8_0,
        [Q4_0] = DType.Q4_0, [Q4_1] = DType.Q4_1, [Q5_0] = DType.Q5_0, [Q5_1] = DType.Q5_1,
        [Q2_K] = DType.Q2_K, [Q3_K] = DType.Q3_K, [Q4_K] = DType.Q4_K, [Q5_K] = DType.Q5_K, [Q6_K] = DType.Q6_K,
        [IQ4_NL] = DType.IQ4_NL, [IQ4_XS] = DType.IQ4_XS, [TQ1_0] = DType.TQ1_0, [TQ2_0] = DType.TQ2_0,
        [IQ2_XXS] = DType.IQ2_XXS, [IQ2_XS] = DType.IQ2_XS, [IQ2_S] = DType.IQ2_S, [IQ3_XXS] = DType.IQ3_XXS,
        [IQ3_S] = DType.IQ3_S, [IQ1_S] = DType.IQ1_S, [IQ1_M] = DType.IQ1_M,
    };

    /// <summary>"F32, F16, ..." for the refusal of a type vib3 does not read.</summary>
    public static string ReadNames => string.Join(", ", Read.Keys.Order().Select(Name));

    private static readonly Dictionary<uint, string> Names = new()
    {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [6] = "Q5_0", [7] = "Q5_1", [8] = "Q8_0",
        [9] = "Q8_1", [10] = "Q2_K", [11] = "Q3_K", [12] = "Q4_K", [13] = "Q5_K", [14] = "Q6_K", [15] = "Q8_K",
        [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL", [21] = "IQ3_S",
        [22] = "IQ2_S", [23] = "IQ4_XS", [24] = "I8", [25] = "I16", [26] = "I32", [27] = "I64", [28] = "F64",
        [29] = "IQ1_M", [30] = "BF16", [31] = "Q4_0_4_4", [32] = "Q4_0_4_8", [33] = "Q4_0_8_8", [34] = "TQ1_0",
        [35] = "TQ2_0", [36] = "IQ4_NL_4_4", [37] = "IQ4_NL_4_8", [38] = "IQ4_NL_8_8", [39] = "MXFP4",
    };

    /// <summary>"Q4_K" for 12; "ggml type 99" for ids this table does not know.</summary>
    public static string Name(uint id) => Names.TryGetValue(id, out var n) ? n : $"ggml type {id}";

    public static bool IsKnown(uint id) => Names.ContainsKey(id);

    public static bool TryToDType(uint id, out DType t) => Read.TryGetValue(id, out t);
}
