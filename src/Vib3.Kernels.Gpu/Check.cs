namespace Vib3.Kernels.Gpu;

/// <summary>Host-side argument checks before a launch: a kernel reading past a view is undefined on a device, so a
/// short view is refused here in one line naming the op.</summary>
internal static class Check
{
    /// <summary>x holds rows × n, w at least n, y rows × n.</summary>
    public static void Rows(string op, long x, long w, long y, int rows, int n)
    {
        var need = (long)rows * n;
        if (rows < 0 || n < 0 || x < need || w < n || y < need)
            throw new ArgumentException($"{op}: {rows} rows of {n} need x and y of {need} values and w of {n}; got x {x}, w {w}, y {y}");
    }
}
