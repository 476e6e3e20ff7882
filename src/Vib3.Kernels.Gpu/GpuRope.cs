using ILGPU;
using ILGPU.Runtime;

namespace Vib3.Kernels.Gpu;

/// <summary><see cref="Rope"/> on the device: rotates every head of several rows in place by an angle table. The table
/// is the CPU's (<see cref="Table"/>: ggml's repeated-multiplication angles, cosf and sinf, YaRN's ramp and mscale), made
/// on the host once per position and shared by every layer, so the two sides rotate by the same cos and sin.</summary>
public static class GpuRope
{
    /// <summary>One row's table for <paramref name="position"/>: cos [headDim/2] then sin [headDim/2] into
    /// <paramref name="table"/>; <paramref name="yarn"/> null for plain rope.</summary>
    public static void Table(int headDim, int position, float theta, YarnParams? yarn, Span<float> table)
    {
        var half = headDim / 2;
        if (headDim <= 0 || headDim % 2 != 0 || table.Length < headDim)
            throw new ArgumentException($"rope: headDim must be even and positive and the table hold {headDim} values, got headDim {headDim}, table {table.Length}");
        if (yarn is null) Rope.Angles(headDim, position, theta, table[..half], table.Slice(half, half));
        else Rope.YarnAngles(headDim, position, theta, yarn, table[..half], table.Slice(half, half));
    }

    /// <param name="heads">[rows, nHeads, headDim], rotated in place</param>
    /// <param name="table">[rows, headDim]: each row's cos then sin (<see cref="Table"/>)</param>
    /// <param name="neox">Rotate (x[i], x[i + headDim/2]) (GPT-NeoX) rather than consecutive pairs.</param>
    public static void Rotate(GpuDevice d, ArrayView<float> heads, int rows, int nHeads, int headDim, ArrayView<float> table, bool neox)
    {
        if (rows == 0 || nHeads == 0) return;
        if (headDim <= 0 || headDim % 2 != 0 || heads.Length < (long)rows * nHeads * headDim || table.Length < (long)rows * headDim)
            throw new ArgumentException($"rope: {rows} rows of {nHeads} heads of {headDim} need {(long)rows * nHeads * headDim} values and a table of " +
                                        $"{(long)rows * headDim}; got {heads.Length} and {table.Length}");
        var kernel = d.Kernel("rope", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int>(Kernel));
        kernel(rows * nHeads * (headDim / 2), heads, table, nHeads, headDim, neox ? 1 : 0);
    }

    /// <summary>One pair: x0' = x0·cos − x1·sin, x1' = x0·sin + x1·cos.</summary>
    private static void Kernel(Index1D index, ArrayView<float> heads, ArrayView<float> table, int nHeads, int headDim, int neox)
    {
        var half = headDim / 2;
        int i = index;
        var pair = i % half;
        var head = i / half;                 // over rows × nHeads
        var row = head / nHeads;
        var at = (long)head * headDim;
        var i0 = at + (neox != 0 ? pair : 2 * pair);
        var i1 = at + (neox != 0 ? pair + half : 2 * pair + 1);
        var cos = table[(long)row * headDim + pair];
        var sin = table[(long)row * headDim + half + pair];
        var x0 = heads[i0];
        var x1 = heads[i1];
        heads[i0] = x0 * cos - x1 * sin;
        heads[i1] = x0 * sin + x1 * cos;
    }
}
