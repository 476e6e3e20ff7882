using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>Max-subtracted softmax.</summary>
public static class Softmax
{
    public static void InPlace(Span<float> x)
    {
        if (x.Length == 0) return;
        var max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, x);
        TensorPrimitives.Exp(x, x);
        var sum = TensorPrimitives.Sum(x);
        TensorPrimitives.Multiply(x, 1f / sum, x);
    }

    /// <summary>Scalar oracle: exp in f32 (MathF.Exp), sum in double.</summary>
    public static void Reference(Span<float> x)
    {
        if (x.Length == 0) return;
        var max = float.NegativeInfinity;
        foreach (var v in x) max = MathF.Max(max, v);
        double sum = 0;
        for (var i = 0; i < x.Length; i++) { x[i] = MathF.Exp(x[i] - max); sum += x[i]; }
        var inv = (float)(1.0 / sum);
        for (var i = 0; i < x.Length; i++) x[i] *= inv;
    }
}
