using ILGPU;

namespace Vib3.Kernels.Gpu;

/// <summary>Device code: reductions across the lanes of a warp by shuffles (every lane gets the result), and across a
/// group through shared memory. Called from kernels only.</summary>
internal static class WarpReduce
{
    public static float Sum(float v)
    {
        for (var offset = Warp.WarpSize / 2; offset > 0; offset /= 2) v += Warp.ShuffleXor(v, offset);
        return v;
    }

    public static int Sum(int v)
    {
        for (var offset = Warp.WarpSize / 2; offset > 0; offset /= 2) v += Warp.ShuffleXor(v, offset);
        return v;
    }

    public static float Max(float v)
    {
        for (var offset = Warp.WarpSize / 2; offset > 0; offset /= 2) v = IntrinsicMath.Max(v, Warp.ShuffleXor(v, offset));
        return v;
    }

    /// <summary>The sum over the whole group (every thread gets it). Every thread of the group must call it.</summary>
    public static float GroupSum(float v)
    {
        var partials = SharedMemory.Allocate<float>(32); // one per warp: at most 1024 threads of 32 lanes
        v = Sum(v);
        if (Warp.LaneIdx == 0) partials[Warp.WarpIdx] = v;
        Group.Barrier();
        var warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        var total = 0f;
        for (var i = 0; i < warps; i++) total += partials[i];
        Group.Barrier(); // the partials may be reused by the next reduction
        return total;
    }

    /// <summary>The maximum over the whole group (every thread gets it). Every thread of the group must call it.</summary>
    public static float GroupMax(float v)
    {
        var partials = SharedMemory.Allocate<float>(32);
        v = Max(v);
        if (Warp.LaneIdx == 0) partials[Warp.WarpIdx] = v;
        Group.Barrier();
        var warps = (Group.DimX + Warp.WarpSize - 1) / Warp.WarpSize;
        var total = float.NegativeInfinity;
        for (var i = 0; i < warps; i++) total = IntrinsicMath.Max(total, partials[i]);
        Group.Barrier();
        return total;
    }
}
