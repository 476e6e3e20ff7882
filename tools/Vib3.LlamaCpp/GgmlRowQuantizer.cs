using System.Runtime.InteropServices;

namespace Vib3.LlamaCpp;

/// <summary>
/// ggml's own row quantizer (ggml_quantize_chunk) from the ggml that ships with LLamaSharp: makes files in the types
/// llama.cpp's file quantizer will not make without an importance matrix (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S…),
/// which LLamaSharp cannot hand it. The portable (noavx) build is loaded by path, as the kernel tests load it.
/// </summary>
public static unsafe class GgmlRowQuantizer
{
    private static readonly nint Library = NativeLibrary.Load(
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "noavx", "libggml-base.so"));

    /// <summary>Quantises <paramref name="rows"/> rows of <paramref name="columns"/> values to ggml type
    /// <paramref name="ggmlType"/>, weighting column j by <paramref name="importance"/>[j] where given (an importance
    /// matrix, as llama-imatrix writes; all ones treats every column alike).</summary>
    public static byte[] Quantize(int ggmlType, ReadOnlySpan<float> values, long rows, long columns, float[]? importance)
    {
        if (values.Length != rows * columns) throw new ArgumentException($"{values.Length} values are not {rows} rows of {columns}");
        if (importance != null && importance.Length != columns)
            throw new ArgumentException($"the importance matrix has {importance.Length} entries for {columns} columns");
        var rowBytes = ((delegate* unmanaged<int, long, nuint>)Export("ggml_row_size"))(ggmlType, columns);
        var dst = new byte[checked((long)rowBytes * rows)];
        // Builds the IQ types' search tables once per process (seconds for IQ1 and IQ2_S); a no-op for the others.
        ((delegate* unmanaged<int, void>)Export("ggml_quantize_init"))(ggmlType);
        var quantize = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)Export("ggml_quantize_chunk");
        fixed (float* src = values)
        fixed (byte* d = dst)
        fixed (float* w = importance)
        {
            var written = quantize(ggmlType, src, d, 0, rows, columns, w);
            if ((long)written != dst.Length) throw new InvalidOperationException($"ggml wrote {written} bytes, expected {dst.Length}");
        }
        return dst;
    }

    private static nint Export(string symbol) => NativeLibrary.GetExport(Library, symbol);
}
