namespace Vib3.Core;

/// <summary>Element types a stored tensor may have. Q8_0 is llama.cpp's block format:
/// blocks of 32 values, each an f16 scale followed by 32 signed bytes (34 bytes per block).</summary>
public enum DType
{
    F32,
    F16,
    BF16,
    Q8_0,
}

public static class DTypes
{
    /// <summary>Values per Q8_0 block.</summary>
    public const int Q8BlockSize = 32;

    /// <summary>Bytes per Q8_0 block: f16 scale (2) + 32 int8 quants.</summary>
    public const int Q8BlockBytes = 2 + Q8BlockSize;

    /// <summary>Values that must be stored together (1 for plain floats, 32 for Q8_0).</summary>
    public static int BlockSize(this DType t) => t == DType.Q8_0 ? Q8BlockSize : 1;

    /// <summary>Bytes taken by <paramref name="count"/> consecutive values; count must be a whole number of blocks.</summary>
    public static long ByteCount(this DType t, long count)
    {
        switch (t)
        {
            case DType.F32: return count * 4;
            case DType.F16:
            case DType.BF16: return count * 2;
            case DType.Q8_0:
                if (count % Q8BlockSize != 0)
                    throw new Vib3Exception(SqlState.InvalidParameterValue,
                        $"q8_0 needs a multiple of {Q8BlockSize} values per row, got {count}");
                return count / Q8BlockSize * Q8BlockBytes;
            default: throw new ArgumentOutOfRangeException(nameof(t), t, null);
        }
    }

    /// <summary>The lower-case name used on the command line, in manifests and in SQL.</summary>
    public static string Name(this DType t) => t switch
    {
        DType.F32 => "f32",
        DType.F16 => "f16",
        DType.BF16 => "bf16",
        DType.Q8_0 => "q8_0",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    public static DType Parse(string name) => TryParse(name, out var t)
        ? t
        : throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"unsupported dtype '{name}' (supported: f32, f16, bf16, q8_0)");

    public static bool TryParse(string name, out DType t)
    {
        switch (name.Trim().ToLowerInvariant())
        {
            case "f32": case "float32": t = DType.F32; return true;
            case "f16": case "float16": t = DType.F16; return true;
            case "bf16": case "bfloat16": t = DType.BF16; return true;
            case "q8_0": t = DType.Q8_0; return true;
            default: t = default; return false;
        }
    }
}
