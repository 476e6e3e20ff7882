namespace Vib3.Convert.Formats;

/// <summary>float8 e4m3 in its "fn" variant (safetensors F8_E4M3, torch.float8_e4m3fn): sign, 4 exponent bits with
/// bias 7, 3 mantissa bits, subnormals; no infinities, and S.1111.111 is NaN, so the largest finite value is ±448.
/// A source-only type: vib3 reads it to dequantise and never stores it (it has no float8 kernels).</summary>
public static class Float8E4M3
{
    public const float MaxFinite = 448f;

    private const byte MaxFiniteCode = 0x7E; // 0.1111.110 = 1.75 · 2^8

    private static readonly float[] Table = BuildTable();

    public static float ToFloat(byte code) => Table[code];

    /// <summary>Decodes <paramref name="codes"/> into the first codes.Length values of <paramref name="dst"/>.</summary>
    public static void ToF32(ReadOnlySpan<byte> codes, Span<float> dst)
    {
        for (var i = 0; i < codes.Length; i++) dst[i] = Table[codes[i]];
    }

    /// <summary>The nearest e4m3 value (ties to even); beyond ±448 saturates to ±448, NaN stays NaN. Writers of block-scaled
    /// checkpoints divide by max|w| / 448 first, so saturation only absorbs the division's last-bit rounding.</summary>
    public static byte FromFloat(float x)
    {
        if (float.IsNaN(x)) return 0x7F;
        var sign = (byte)(BitConverter.SingleToUInt32Bits(x) >> 24 & 0x80);
        var a = MathF.Abs(x);
        if (a >= MaxFinite) return (byte)(sign | MaxFiniteCode);
        if (a < 1f / 64) // below the smallest normal 2^-6: subnormal steps of 2^-9 (a step count of 8 is the smallest normal's code)
            return (byte)(sign | (int)MathF.Round(a * 512, MidpointRounding.ToEven));
        var bits = BitConverter.SingleToUInt32Bits(a);
        var exponent = (int)(bits >> 23) - 127 + 7;
        var mantissa = bits >> 20 & 7;
        var rest = bits & 0xFFFFF;
        if (rest > 0x80000 || (rest == 0x80000 && (mantissa & 1) == 1)) mantissa++;
        var code = (exponent << 3) + (int)mantissa; // a mantissa carry moves into the exponent
        return (byte)(sign | Math.Min(code, MaxFiniteCode));
    }

    private static float[] BuildTable()
    {
        var table = new float[256];
        for (var b = 0; b < 256; b++)
        {
            uint sign = (uint)(b >> 7) << 31, exponent = (uint)(b >> 3) & 15, mantissa = (uint)b & 7;
            float magnitude;
            if (exponent == 15 && mantissa == 7)
                magnitude = float.NaN;
            else if (exponent == 0)
                magnitude = mantissa / 512f; // subnormal: m · 2^-9, exact
            else
                magnitude = BitConverter.UInt32BitsToSingle((exponent - 7 + 127) << 23 | mantissa << 20);
            table[b] = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(magnitude) | sign);
        }
        return table;
    }
}
