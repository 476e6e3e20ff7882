using System.Numerics.Tensors;

namespace Vib3.Kernels;

/// <summary>y = silu(gate) · up, silu(v) = v / (1 + exp(-v)). y may alias gate or up.</summary>
public static class SwiGlu
{
    public static void Compute(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        CheckArgs(gate, up, y);
        var n = gate.Length;
        // sigmoid(g)·g·up, vectorised by TensorPrimitives; chunked through a stack buffer so y may alias.
        Span<float> tmp = stackalloc float[Math.Min(n, 1024)];
        for (var i = 0; i < n; i += tmp.Length)
        {
            var m = Math.Min(tmp.Length, n - i);
            var t = tmp[..m];
            TensorPrimitives.Sigmoid(gate.Slice(i, m), t);
            TensorPrimitives.Multiply(t, gate.Slice(i, m), t);
            TensorPrimitives.Multiply(t, up.Slice(i, m), y.Slice(i, m));
        }
    }

    public static void Reference(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        CheckArgs(gate, up, y);
        for (var i = 0; i < gate.Length; i++)
        {
            var g = gate[i];
            y[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    private static void CheckArgs(ReadOnlySpan<float> gate, ReadOnlySpan<float> up, Span<float> y)
    {
        if (up.Length < gate.Length || y.Length < gate.Length)
            throw new ArgumentException($"swiglu: gate has {gate.Length} values, up {up.Length}, y {y.Length}");
    }
}
