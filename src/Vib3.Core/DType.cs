namespace Vib3.Core;

/// <summary>Element types a stored tensor may have. The Q types are ggml's block formats, stored bit for bit as
/// ggml lays them out (little-endian; "d" and "m" are f16):
/// Q8_0: d, 32 × int8 (34 bytes per 32 values).
/// Q4_0: d, 16 bytes of nibbles; byte j holds value j (low nibble) and value j+16 (high nibble), value = d·(q−8).
/// Q4_1: d, m, 16 bytes of nibbles as Q4_0; value = d·q + m.
/// Q5_0: d, qh (4 bytes, a little-endian u32 whose bit j is the fifth bit of value j), 16 bytes of nibbles as Q4_0;
///       value = d·(q−16).
/// Q5_1: d, m, qh, 16 bytes of nibbles as Q5_0; value = d·q + m.
/// The K-quant, IQ and ternary types (Q2_K … IQ1_M) are laid out on their formats in <see cref="Quant"/>.
/// The numbering is stored in catalogs: new types are appended.</summary>
public enum DType
{
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    IQ4_NL,
    IQ4_XS,
    TQ1_0,
    TQ2_0,
    IQ2_XXS,
    IQ2_XS,
    IQ2_S,
    IQ3_XXS,
    IQ3_S,
    IQ1_S,
    IQ1_M,
}

/// <summary>How a type is laid out: <paramref name="BlockValues"/> consecutive values take <paramref name="BlockBytes"/>
/// bytes and must stay together (1 value for plain floats). <paramref name="Writable"/>: vib3 can encode f32 into it
/// (the others are only read as they come, bit for bit). <paramref name="LeadingScales"/>: how many f16 fields (d, then
/// m) open each block; a non-finite one makes the whole block garbage, so the converter refuses it.
/// <paramref name="Codec"/>: the format in <see cref="Quant"/> that reads the type, where one does.
/// <paramref name="Quantizer"/>: what encodes f32 into a block type (the bytes of ggml's reference quantizer).</summary>
public sealed record DTypeLayout(string Name, int BlockValues, int BlockBytes, bool Writable, int LeadingScales = 0,
    Quant.IBlockCodec? Codec = null, Quant.IRowQuantizer? Quantizer = null)
{
    /// <summary>The row of a type read through its <see cref="Quant.IBlockFormat"/>.</summary>
    public static DTypeLayout Of<T>(string name) where T : Quant.IBlockFormat =>
        new(name, T.BlockValues, T.BlockBytes, Writable: false, Codec: Quant.BlockCodec<T>.Instance);

    /// <summary>The row of a type read through <typeparamref name="T"/> and written by <typeparamref name="TQuantizer"/>.</summary>
    public static DTypeLayout Of<T, TQuantizer>(string name) where T : Quant.IBlockFormat where TQuantizer : Quant.IBlockQuantizer =>
        Of<T>(name) with { Writable = true, Quantizer = Quant.RowQuantizer<TQuantizer>.Instance };
}

public static class DTypes
{
    /// <summary>Values per Q8_0 block.</summary>
    public const int Q8BlockSize = 32;

    /// <summary>Bytes per Q8_0 block: f16 scale (2) + 32 int8 quants.</summary>
    public const int Q8BlockBytes = 2 + Q8BlockSize;

    /// <summary>Values per block of ggml's legacy 4- and 5-bit types (Q4_0, Q4_1, Q5_0, Q5_1).</summary>
    public const int LegacyBlockSize = 32;

    /// <summary>One row per <see cref="DType"/>, in enum order: a new block type is one row here.</summary>
    private static readonly DTypeLayout[] Layouts =
    [
        new("f32", 1, 4, true),
        new("f16", 1, 2, true),
        new("bf16", 1, 2, true),
        new("q8_0", Q8BlockSize, Q8BlockBytes, true, LeadingScales: 1, Quantizer: Quant.RowQuantizer<Quant.Q8_0Quantizer>.Instance),
        new("q4_0", LegacyBlockSize, 2 + 16, true, LeadingScales: 1, Quantizer: Quant.RowQuantizer<Quant.Q4_0Quantizer>.Instance),
        new("q4_1", LegacyBlockSize, 2 + 2 + 16, true, LeadingScales: 2, Quantizer: Quant.RowQuantizer<Quant.Q4_1Quantizer>.Instance),
        new("q5_0", LegacyBlockSize, 2 + 4 + 16, true, LeadingScales: 1, Quantizer: Quant.RowQuantizer<Quant.Q5_0Quantizer>.Instance),
        new("q5_1", LegacyBlockSize, 2 + 2 + 4 + 16, true, LeadingScales: 2, Quantizer: Quant.RowQuantizer<Quant.Q5_1Quantizer>.Instance),
        DTypeLayout.Of<Quant.Q2K, Quant.Q2KQuantizer>("q2_k"),
        DTypeLayout.Of<Quant.Q3K, Quant.Q3KQuantizer>("q3_k"),
        DTypeLayout.Of<Quant.Q4K, Quant.Q4KQuantizer>("q4_k"),
        DTypeLayout.Of<Quant.Q5K, Quant.Q5KQuantizer>("q5_k"),
        DTypeLayout.Of<Quant.Q6K, Quant.Q6KQuantizer>("q6_k"),
        DTypeLayout.Of<Quant.IQ4NL>("iq4_nl"),
        DTypeLayout.Of<Quant.IQ4XS, Quant.IQ4XSQuantizer>("iq4_xs"),
        DTypeLayout.Of<Quant.TQ1_0>("tq1_0"),
        DTypeLayout.Of<Quant.TQ2_0>("tq2_0"),
        DTypeLayout.Of<Quant.IQ2XXS>("iq2_xxs"),
        DTypeLayout.Of<Quant.IQ2XS>("iq2_xs"),
        DTypeLayout.Of<Quant.IQ2S>("iq2_s"),
        DTypeLayout.Of<Quant.IQ3XXS>("iq3_xxs"),
        DTypeLayout.Of<Quant.IQ3S>("iq3_s"),
        DTypeLayout.Of<Quant.IQ1S>("iq1_s"),
        DTypeLayout.Of<Quant.IQ1M>("iq1_m"),
    ];

    public static IReadOnlyList<DType> All { get; } = Enum.GetValues<DType>();

    public static DTypeLayout Layout(this DType t) =>
        (uint)t < (uint)Layouts.Length ? Layouts[(int)t] : throw new ArgumentOutOfRangeException(nameof(t), t, null);

    /// <summary>Values that must be stored together (1 for plain floats, 32 or 256 for the block types).</summary>
    public static int BlockSize(this DType t) => t.Layout().BlockValues;

    /// <summary>Stored bits per value: a block's bytes × 8 over its values (4.5 for q4_k, 6.5625 for q6_k, 32 for f32),
    /// as llama.cpp counts a type's bits per weight.</summary>
    public static double BitsPerWeight(this DType t) => t.Layout().BlockBytes * 8.0 / t.Layout().BlockValues;

    /// <summary>True for the block (quantised) types.</summary>
    public static bool IsBlocked(this DType t) => t.Layout().BlockValues > 1;

    /// <summary>Whether vib3 can encode f32 values into this type (--dtype); the others are read as they are.</summary>
    public static bool IsWritable(this DType t) => t.Layout().Writable;

    /// <summary>Bytes taken by <paramref name="count"/> consecutive values; count must be a whole number of blocks.</summary>
    public static long ByteCount(this DType t, long count)
    {
        var l = t.Layout();
        if (count % l.BlockValues != 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{l.Name} needs a multiple of {l.BlockValues} values per row, got {count}");
        return checked(count / l.BlockValues * l.BlockBytes);
    }

    /// <summary>The first block of <paramref name="blocks"/> (whole blocks of <paramref name="t"/>) whose f16 scale d or
    /// min m is NaN or infinite, or -1 when all are finite (always -1 for plain floats).</summary>
    public static long FirstNonFiniteScale(this DType t, ReadOnlySpan<byte> blocks)
    {
        var l = t.Layout();
        if (l.Codec is { } codec) return codec.FirstNonFiniteBlock(blocks[..(blocks.Length / l.BlockBytes * l.BlockBytes)]);
        if (l.LeadingScales == 0) return -1;
        for (var b = 0; b < blocks.Length / l.BlockBytes; b++)
            for (var s = 0; s < l.LeadingScales; s++)
            {
                var bits = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(blocks[(b * l.BlockBytes + 2 * s)..]);
                if ((bits & 0x7C00) == 0x7C00) return b; // exponent all ones: inf or NaN
            }
        return -1;
    }

    /// <summary>The lower-case name used on the command line, in manifests and in SQL.</summary>
    public static string Name(this DType t) => t.Layout().Name;

    /// <summary>"f32, f16, bf16, q8_0, …" — the types --dtype accepts.</summary>
    public static string WritableNames => string.Join(", ", All.Where(IsWritable).Select(Name));

    public static DType Parse(string name) => TryParse(name, out var t)
        ? t
        : throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"unsupported dtype '{name}' (supported: {string.Join(", ", All.Select(Name))})");

    public static bool TryParse(string name, out DType t)
    {
        var key = name.Trim().ToLowerInvariant() switch
        {
            "float32" => "f32",
            "float16" => "f16",
            "bfloat16" => "bf16",
            var k => k,
        };
        foreach (var candidate in All)
            if (candidate.Name() == key) { t = candidate; return true; }
        t = default;
        return false;
    }
}
