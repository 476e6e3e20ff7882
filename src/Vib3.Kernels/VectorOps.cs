using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>Small vector helpers over TensorPrimitives.</summary>
public static class VectorOps
{
    /// <summary>acc += a.</summary>
    public static void Add(ReadOnlySpan<float> a, Span<float> acc) => TensorPrimitives.Add(acc[..a.Length], a, acc);

    /// <summary>acc += s·a.</summary>
    public static void AddScaled(ReadOnlySpan<float> a, float s, Span<float> acc) =>
        TensorPrimitives.MultiplyAdd(a, s, acc[..a.Length], acc);

    /// <summary>x *= s.</summary>
    public static void Scale(Span<float> x, float s) => TensorPrimitives.Multiply(x, s, x);

    /// <summary>Σ a[i]·b[i] over a.Length values.</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.Dot(a, b[..a.Length]);

    /// <summary>Index of the largest value; the first one on ties (greedy decoding's choice, as llama.cpp makes it).</summary>
    public static int ArgMax(ReadOnlySpan<float> x)
    {
        var best = 0;
        for (var i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
