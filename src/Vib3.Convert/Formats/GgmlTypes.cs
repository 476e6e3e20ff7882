using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>ggml tensor type ids as stored in GGUF tensor infos, with names for the error messages.</summary>
public static class GgmlTypes
{
    public const uint F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30;

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

    public static bool TryToDType(uint id, out DType t)
    {
        switch (id)
        {
            case F32: t = DType.F32; return true;
            case F16: t = DType.F16; return true;
            case Q8_0: t = DType.Q8_0; return true;
            case BF16: t = DType.BF16; return true;
            default: t = default; return false;
        }
    }

    public static uint FromDType(DType t) => t switch
    {
        DType.F32 => F32,
        DType.F16 => F16,
        DType.Q8_0 => Q8_0,
        DType.BF16 => BF16,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };
}
