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

    /// <summary>Random blocks of a legacy type: random quant bits, f16 scales d and mins m of either sign and of the
    /// sizes real models have (|d| up to 0.05, |m| up to 0.5), some of them zero.</summary>
    public static byte[] RandomBlocks(Random rng, DType t, long count)
    {
        var layout = t.Layout();
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

    private static void Half(Span<byte> at, double v) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(at, BitConverter.HalfToUInt16Bits((Half)v));

    /// <summary>Σ_c |W[r,c]·x[c]| for each row: the scale f32 summation error is relative to.</summary>
    public static double AbsDot(float[] w, int r, int cols, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (var c = 0; c < cols; c++) s += Math.Abs((double)w[r * cols + c] * x[c]);
        return s;
    }

    /// <summary>Bound on the q8_0 fast path's extra error from quantising x: each x̂ = q·f16(d) with
    /// q = round(x·127/amax) is within d/2 + 127·|f16(d) − d| ≤ 0.5·d + 127·d·2^-11 &lt; 0.57·d of x, d = amax/127.
    /// The types with a block min (Q4_1, Q5_1) also multiply m by q8_1's block sum s = d·Σq, which llama.cpp stores
    /// as f16: within |s|·2^-11 ≤ Σ|x̂|·2^-11, and |m| is at most the block's largest |w| (the encoder's m is the
    /// block minimum, and its d ≥ 0).</summary>
    public static double Q8ActivationBound(DType t, float[] w, int r, int cols, ReadOnlySpan<float> x)
    {
        var blockMin = t.Layout().LeadingScales == 2;
        double s = 0;
        for (var b = 0; b < cols / 32; b++)
        {
            double amax = 0, wa = 0, wmax = 0, xa = 0;
            for (var j = 0; j < 32; j++)
            {
                amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
                wa += Math.Abs(w[r * cols + b * 32 + j]);
                wmax = Math.Max(wmax, Math.Abs(w[r * cols + b * 32 + j]));
                xa += Math.Abs(x[b * 32 + j]);
            }
            s += wa * 0.57 * amax / 127;
            if (blockMin) s += wmax * 1.01 * xa * Math.Pow(2, -11);
        }
        return s;
    }
}
