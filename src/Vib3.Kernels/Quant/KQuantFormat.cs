using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Vib3.Kernels.Quant;

/// <summary>One K-quant format, all a row kernel needs of it: its block (<see cref="IKQuantBlock"/>), its values one
/// at a time for the scalar tier (<see cref="IScalarQuants"/>), and <see cref="Add{TDot, TCount}"/>, the block's
/// vector products on any 256-bit tier. <see cref="KQuantRow.Dot{TFormat}"/> picks the tier once for every format.</summary>
internal unsafe interface IKQuantFormat : IKQuantBlock, IScalarQuants
{
    /// <summary>Adds the block's products scale·u·x into accumulators that start at zero, with
    /// <see cref="ByteDots.Add{TDot, TCount}"/>'s conventions (one input: spread over four chains; several: a_k for
    /// input k), so that <see cref="ByteDots.Lanes{TCount}"/> then leaves the <see cref="IKQuantSums"/> lanes.</summary>
    static abstract void Add<TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TDot : IByteDot where TCount : IInputCount;
}

/// <summary>The <see cref="IKQuantSums"/> of <typeparamref name="TFormat"/> on the 256-bit tier
/// <typeparamref name="TDot"/>: a struct over structs, so the JIT compiles one loop per format and tier with every
/// call inlined.</summary>
internal readonly unsafe struct VectorSums<TFormat, TDot> : IKQuantSums where TFormat : IKQuantFormat where TDot : IByteDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Lanes<TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        out Vector256<int> l0, out Vector256<int> l1, out Vector256<int> l2, out Vector256<int> l3) where TCount : IInputCount
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        TFormat.Add<TDot, TCount>(block, x, stride, inputs, scales, ref a0, ref a1, ref a2, ref a3);
        ByteDots.Lanes<TCount>(ref a0, a1, a2, a3);
        (l0, l1, l2, l3) = (a0, a1, a2, a3);
    }

    /// <summary>Never called for a format without <see cref="IKQuantBlock.UsesSums"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> WeightedSums(Vector256<short> weights, short* bsums) => TDot.PairDot(weights, Vector256.Load(bsums));
}

/// <summary>A format of sixteen 16-value sub-blocks read as two 128-value halves of four 32-value runs (Q2_K, Q3_K,
/// Q6_K): run j of half h holds values 128h + 32j … 128h + 32j + 31, the first sixteen in sub-block 8h + 2j, the last
/// sixteen in 8h + 2j + 1.</summary>
internal unsafe interface IHalfRuns
{
    /// <summary>The bytes half <paramref name="h"/>'s runs are rebuilt from, loaded once for all four (a run at a
    /// time would load them again: the JIT does not merge the loads).</summary>
    static abstract HalfBytes Load(byte* block, int h);

    /// <summary>The unsigned quants of run <paramref name="j"/> (a constant at the call, so the shifts fold).</summary>
    static abstract Vector256<byte> Run(HalfBytes bytes, int j);
}

/// <summary>Up to three 32-byte vectors of one half's quant bits (which ones is the format's; unused ones default,
/// and the JIT drops them).</summary>
internal readonly struct HalfBytes(Vector256<byte> a, Vector256<byte> b = default, Vector256<byte> c = default)
{
    public readonly Vector256<byte> A = a;
    public readonly Vector256<byte> B = b;
    public readonly Vector256<byte> C = c;
}

/// <summary>The <see cref="IKQuantFormat.Add{TDot, TCount}"/> every <see cref="IHalfRuns"/> format shares: half h's
/// runs against the scales of <see cref="BlockScales.Low"/> (h = 0) or <see cref="BlockScales.High"/> (h = 1); with
/// one input run j goes to chain j.</summary>
internal static unsafe class HalfRuns
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add<TFormat, TDot, TCount>(byte* block, sbyte* x, long stride, int inputs, BlockScales scales,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TFormat : IHalfRuns where TDot : IByteDot where TCount : IInputCount
    {
        Half<TFormat, TDot, TCount>(0, block, x, stride, inputs, scales.Low, ref a0, ref a1, ref a2, ref a3);
        Half<TFormat, TDot, TCount>(1, block, x, stride, inputs, scales.High, ref a0, ref a1, ref a2, ref a3);
    }

    /// <summary>Called with constant <paramref name="h"/>: the scale shuffles and chains fold to constants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Half<TFormat, TDot, TCount>(int h, byte* block, sbyte* x, long stride, int inputs, Vector256<short> table,
        ref Vector256<int> a0, ref Vector256<int> a1, ref Vector256<int> a2, ref Vector256<int> a3)
        where TFormat : IHalfRuns where TDot : IByteDot where TCount : IInputCount
    {
        var bytes = TFormat.Load(block, h);
        var xh = x + 128 * h;
        ByteDots.Add<TDot, TCount>(0, TFormat.Run(bytes, 0), xh, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 0), ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(1, TFormat.Run(bytes, 1), xh + 32, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 1), ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(2, TFormat.Run(bytes, 2), xh + 64, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 2), ref a0, ref a1, ref a2, ref a3);
        ByteDots.Add<TDot, TCount>(3, TFormat.Run(bytes, 3), xh + 96, stride, inputs, ByteDots.SubBlockPair<TDot>(table, 3), ref a0, ref a1, ref a2, ref a3);
    }
}
