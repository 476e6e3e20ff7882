using Vib3.Core;

namespace Vib3.Kernels.Tests;

internal static class TestData
{
    public static readonly DType[] AllTypes = [.. DTypes.All];

    public static float[] Floats(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>Random weights encoded as <paramref name="t"/> (via the reference encoder, or random blocks for the
    /// types vib3 only reads), plus their exact f32 values.</summary>
    public static (byte[] Bytes, float[] Values) Weights(Random rng, DType t, int rows, int cols)
    {
        if (!t.IsWritable())
        {
            var blocks = RandomBlocks(rng, t, (long)rows * cols / t.BlockSize());
            var values = new float[rows * cols];
            DTypeConvert.ToF32(t, blocks, values);
            return (blocks, values);
        }
        var f = Floats(rng, rows * cols, 0.5f);
        // Sprinkle exact zeros, tiny values (f16 subnormals) and larger values: the conversion corner cases.
        for (var i = 0; i < f.Length; i += 7) f[i] = 0;
        for (var i = 3; i < f.Length; i += 11) f[i] *= 1e-5f;
        for (var i = 5; i < f.Length; i += 13) f[i] *= 300f;
        var bytes = new byte[t.ByteCount((long)rows * cols)];
        DTypeConvert.FromF32(t, f, bytes);
        DTypeConvert.ToF32(t, bytes, f);
        return (bytes, f);
    }

    /// <summary>Random blocks of a read-only type. A format of <see cref="Core.Quant"/>: random bytes with finite random
    /// f16 super-scales (<see cref="Quant.BlockFormatCase.RandomBlocks"/>). A legacy type: random quant bits, f16 scales
    /// d and mins m of either sign and of the sizes real models have (|d| up to 0.05, |m| up to 0.5), some of them zero.
    /// </summary>
    public static byte[] RandomBlocks(Random rng, DType t, long count)
    {
        var layout = t.Layout();
        if (layout.Codec != null) return Quant.BlockFormatCase.Get(GgmlName(t)).RandomBlocks(rng, (int)count);
        var bytes = new byte[count * layout.BlockBytes];
        rng.NextBytes(bytes);
        var withMin = t is DType.Q4_1 or DType.Q5_1;
        for (long b = 0; b < count; b++)
        {
            var block = bytes.AsSpan((int)(b * layout.BlockBytes), layout.BlockBytes);
            Half(block, b % 9 == 4 ? 0 : (rng.NextDouble() * 2 - 1) * 0.05);
            if (withMin) Half(block[2..], (rng.NextDouble() * 2 - 1) * 0.5);
        }
        return bytes;
    }

    /// <summary>ggml's spelling of a type name ("q4_K" for q4_k), as <see cref="Quant.BlockFormatCase"/> knows them.</summary>
    public static string GgmlName(DType t) => t.Name().EndsWith("_k", StringComparison.Ordinal) ? t.Name()[..^2] + "_K" : t.Name();

    private static void Half(Span<byte> at, double v) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(at, BitConverter.HalfToUInt16Bits((Half)v));

    /// <summary>Σ_c |W[r,c]·x[c]| for each row: the scale f32 summation error is relative to.</summary>
    public static double AbsDot(float[] w, int r, int cols, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (var c = 0; c < cols; c++) s += Math.Abs((double)w[r * cols + c] * x[c]);
        return s;
    }

    /// <summary>Bound on a block type's extra error from quantising x, per activation block of the type's kernel:
    /// q8_0 (32 values): x̂ = q·f16(d) with q = round(x·127/amax) is within d/2 + 127·|f16(d) − d| ≤ 0.5·d + 127·d·2^-11
    /// &lt; 0.57·d of x, d = amax/127. Q8_K (256 values, the types in 256-value blocks): d is kept in f32, so x̂ is within
    /// d/2 plus f32 rounding (a relative 2^-24·127 of d), &lt; 0.51·d.
    /// The types with a block min (Q4_1, Q5_1) also multiply m by q8_1's block sum s = d·Σq, which llama.cpp stores
    /// as f16: within |s|·2^-11 ≤ Σ|x̂|·2^-11, and |m| is at most the block's largest |w| (the encoder's m is the
    /// block minimum, and its d ≥ 0).</summary>
    public static double Q8ActivationBound(DType t, float[] w, int r, int cols, ReadOnlySpan<float> x)
    {
        var (block, factor) = t.BlockSize() == 256 ? (256, 0.51) : (32, 0.57);
        var blockMin = t.Layout().LeadingScales == 2;
        double s = 0;
        for (var b = 0; b < cols / block; b++)
        {
            double amax = 0, wa = 0, wmax = 0, xa = 0;
            for (var j = 0; j < block; j++)
            {
                amax = Math.Max(amax, Math.Abs(x[b * block + j]));
                wa += Math.Abs(w[r * cols + b * block + j]);
                wmax = Math.Max(wmax, Math.Abs(w[r * cols + b * block + j]));
                xa += Math.Abs(x[b * block + j]);
            }
            s += wa * factor * amax / 127;
            if (blockMin) s += wmax * 1.01 * xa * Math.Pow(2, -11);
        }
        return s;
    }
}
