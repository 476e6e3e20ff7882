using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>y = x / sqrt(mean(x²) + eps) · w. x and y may be the same span.</summary>
public static class RmsNorm
{
    public static void Compute(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps, Span<float> y)
    {
        CheckArgs(x, w, y);
        if (x.Length == 0) return;
        var scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / x.Length + eps);
        TensorPrimitives.Multiply(x, scale, y[..x.Length]);
        TensorPrimitives.Multiply(y[..x.Length], w[..x.Length], y[..x.Length]);
    }

    /// <summary>Scalar oracle; the sum of squares is accumulated in double (as ggml does), the scale is f32.</summary>
    public static void Reference(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float eps, Span<float> y)
    {
        CheckArgs(x, w, y);
        if (x.Length == 0) return;
        double sum = 0;
        foreach (var v in x) sum += (double)v * v;
        var scale = 1f / MathF.Sqrt((float)(sum / x.Length) + eps);
        for (var i = 0; i < x.Length; i++) y[i] = x[i] * scale * w[i];
    }

    private static void CheckArgs(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y)
    {
        if (w.Length < x.Length || y.Length < x.Length)
            throw new ArgumentException($"rms_norm: x has {x.Length} values, w {w.Length}, y {y.Length}");
    }
}
