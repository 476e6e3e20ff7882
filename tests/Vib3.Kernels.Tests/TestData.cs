using Vib3.Core;

namespace Vib3.Kernels.Tests;

internal static class TestData
{
    public static readonly DType[] AllTypes = [DType.F32, DType.F16, DType.BF16, DType.Q8_0];

    public static float[] Floats(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (var i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>Random weights encoded as <paramref name="t"/> (via the reference encoder), plus their exact f32 values.</summary>
    public static (byte[] Bytes, float[] Values) Weights(Random rng, DType t, int rows, int cols)
    {
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

    /// <summary>Σ_c |W[r,c]·x[c]| for each row: the scale f32 summation error is relative to.</summary>
    public static double AbsDot(float[] w, int r, int cols, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (var c = 0; c < cols; c++) s += Math.Abs((double)w[r * cols + c] * x[c]);
        return s;
    }

    /// <summary>Bound on the q8_0 fast path's extra error from quantising x: each x̂ = q·f16(d) with
    /// q = round(x·127/amax) is within d/2 + 127·|f16(d) − d| ≤ 0.5·d + 127·d·2^-11 &lt; 0.57·d of x, d = amax/127.</summary>
    public static double Q8ActivationBound(float[] w, int r, int cols, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (var b = 0; b < cols / 32; b++)
        {
            double amax = 0, wa = 0;
            for (var j = 0; j < 32; j++)
            {
                amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
                wa += Math.Abs(w[r * cols + b * 32 + j]);
            }
            s += wa * 0.57 * amax / 127;
        }
        return s;
    }
}
