using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Vib3.Index;

/// <summary>
/// The score functions every index shares (higher = closer, see <see cref="VectorMetric"/>). Exact and HNSW indexes
/// call the same code so that a recall test compares bit-identical scores: the ann-benchmarks rule "a result counts if
/// its score is at least the k-th true score" would otherwise miss true neighbours over a last-bit rounding difference.
/// </summary>
internal static class Distances
{
    /// <summary>Score of <paramref name="b"/> against <paramref name="a"/> (both [dims]); Cosine vectors must already be
    /// unit length, so Cosine and InnerProduct are the same dot product here.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Score(VectorMetric metric, ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        metric == VectorMetric.L2 ? -SquaredL2(a, b) : Dot(a, b);

    /// <summary>Σ aᵢbᵢ (TensorPrimitives.Dot: the widest vectors the CPU accelerates, several accumulators).</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) ThrowLengths();
        return TensorPrimitives.Dot(a, b);
    }

    /// <summary>Σ (aᵢ − bᵢ)², never square-rooted: the order is the same and L2 scores are defined as −|a − b|².
    /// Written out because TensorPrimitives has no squared distance: squaring its Distance rounds twice (27 came back
    /// as 26.9999981), and Subtract then SumOfSquares measured 1.4–2.2× slower on 128-dimensional keys.</summary>
    public static float SquaredL2(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) ThrowLengths();
        ref var x = ref MemoryMarshal.GetReference(a);
        ref var y = ref MemoryMarshal.GetReference(b);
        var n = (nuint)a.Length;
        nuint i = 0;
        var sum = 0f;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> s0 = Vector512<float>.Zero, s1 = Vector512<float>.Zero;
            for (; i + 32 <= n; i += 32)
            {
                var d0 = Vector512.LoadUnsafe(ref x, i) - Vector512.LoadUnsafe(ref y, i);
                var d1 = Vector512.LoadUnsafe(ref x, i + 16) - Vector512.LoadUnsafe(ref y, i + 16);
                s0 = Vector512.FusedMultiplyAdd(d0, d0, s0);
                s1 = Vector512.FusedMultiplyAdd(d1, d1, s1);
            }
            if (i + 16 <= n)
            {
                var d0 = Vector512.LoadUnsafe(ref x, i) - Vector512.LoadUnsafe(ref y, i);
                s0 = Vector512.FusedMultiplyAdd(d0, d0, s0);
                i += 16;
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> s0 = Vector256<float>.Zero, s1 = Vector256<float>.Zero;
            for (; i + 16 <= n; i += 16)
            {
                var d0 = Vector256.LoadUnsafe(ref x, i) - Vector256.LoadUnsafe(ref y, i);
                var d1 = Vector256.LoadUnsafe(ref x, i + 8) - Vector256.LoadUnsafe(ref y, i + 8);
                s0 = Vector256.FusedMultiplyAdd(d0, d0, s0);
                s1 = Vector256.FusedMultiplyAdd(d1, d1, s1);
            }
            if (i + 8 <= n)
            {
                var d0 = Vector256.LoadUnsafe(ref x, i) - Vector256.LoadUnsafe(ref y, i);
                s0 = Vector256.FusedMultiplyAdd(d0, d0, s0);
                i += 8;
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < n; i++)
        {
            var d = Unsafe.Add(ref x, i) - Unsafe.Add(ref y, i);
            sum += d * d;
        }
        return sum;
    }

    /// <summary>Plain loops, the reference the SIMD versions are tested against (double accumulation, so the test
    /// measures the SIMD error, not the reference's).</summary>
    public static double DotScalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0d;
        for (var i = 0; i < a.Length; i++) sum += (double)a[i] * b[i];
        return sum;
    }

    public static double SquaredL2Scalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0d;
        for (var i = 0; i < a.Length; i++)
        {
            var d = (double)a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>Scales <paramref name="v"/> to unit length (a zero vector stays zero: it has no direction, and every
    /// cosine against it is 0).</summary>
    public static void Normalise(Span<float> v)
    {
        var norm = MathF.Sqrt(Dot(v, v));
        if (norm > 0) TensorPrimitives.Divide(v, norm, v);
    }

    private static void ThrowLengths() => throw new ArgumentException("the vectors have different lengths");
}
