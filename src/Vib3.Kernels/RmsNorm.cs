using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels;

/// <summary>y = x / sqrt(mean(x²) + eps) · w. x and y may be the same span.</summary>
public static class RmsNorm
{
    public static void Compute(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps, Span<float> y)
    {
        CheckArgs(x, w, y);
        if (x.Length == 0) return;
        var scale = 1f / MathF.Sqrt((float)(SumOfSquares(x) / x.Length) + eps);
        TensorPrimitives.Multiply(x, scale, y[..x.Length]);
        TensorPrimitives.Multiply(y[..x.Length], w[..x.Length], y[..x.Length]);
    }

    /// <summary>Σ x² with each square rounded to f32 and the sum kept in double, as ggml computes it: the sum then
    /// rounds to the same f32 mean in any order, so the scale matches llama.cpp's bit for bit. An f32 sum moved the
    /// scale by an ulp now and then, enough to flip the rounding of a q8 activation downstream.</summary>
    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        var i = 0;
        var acc = Vector256<double>.Zero;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 4 <= x.Length; i += 4)
            {
                var v = Vector128.Create(x.Slice(i, 4));
                var squares = v * v; // rounded to f32, as ggml's x*x is
                acc += Vector256.Create(Vector128.WidenLower(squares), Vector128.WidenUpper(squares));
            }
        var sum = Vector256.Sum(acc);
        for (; i < x.Length; i++) sum += x[i] * x[i];
        return sum;
    }

    /// <summary>Scalar oracle; each square rounded to f32 and accumulated in double (as ggml does), the scale f32.</summary>
    public static void Reference(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps, Span<float> y)
    {
        CheckArgs(x, w, y);
        if (x.Length == 0) return;
        double sum = 0;
        foreach (var v in x) sum += v * v; // the square rounded to f32, the sum in double: ggml's order
        var scale = 1f / MathF.Sqrt((float)(sum / x.Length) + eps);
        for (var i = 0; i < x.Length; i++) y[i] = x[i] * scale * w[i];
    }

    private static void CheckArgs(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y)
    {
        if (w.Length < x.Length || y.Length < x.Length)
            throw new ArgumentException($"rms_norm: x has {x.Length} values, w {w.Length}, y {y.Length}");
    }
}
