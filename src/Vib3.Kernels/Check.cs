using Vib3.Core;

namespace Vib3.Kernels;

internal static class Check
{
    public static void MatVec(DType t, ReadOnlySpan<byte> w, int rows, int cols, int xLen, int yLen, int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (cols % t.BlockSize() != 0)
            throw new ArgumentException($"{t.Name()} needs cols to be a multiple of {t.BlockSize()}, got {cols}");
        var need = t.ByteCount((long)rows * cols);
        if (w.Length < need) throw new ArgumentException($"weights: need {need} bytes, got {w.Length}");
        if (xLen < (long)n * cols) throw new ArgumentException($"x: need {(long)n * cols} values, got {xLen}");
        if (yLen < (long)n * rows) throw new ArgumentException($"y: need {(long)n * rows} values, got {yLen}");
    }
}
