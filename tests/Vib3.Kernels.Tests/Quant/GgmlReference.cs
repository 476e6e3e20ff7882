using System.Runtime.InteropServices;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// ggml itself, as shipped in LLamaSharp.Backend.Cpu: its exported scalar dequantize_row_* and its quantizer
/// (ggml_quantize_chunk, llama.cpp's reference path without an importance matrix). The noavx build is loaded by path:
/// it runs on any x86-64 CPU and is compiled without FMA, so its d·q − m is certainly two f32 roundings, as vib3's is
/// (the avx512 build gave the same bits on this machine, but a compiler may fuse that expression where FMA is on).
/// </summary>
internal static unsafe class GgmlReference
{
    private static readonly nint Library = NativeLibrary.Load(
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "noavx", "libggml-base.so"));

    /// <summary>ggml's CPU backend (same folder; it finds the base library already loaded by its soname), for the
    /// integer dot products llama.cpp's matvec runs (the noavx build's are the portable "_generic" ones). Its f16
    /// lookup table is all zeros until ggml_cpu_init runs, which would make every dot 0.</summary>
    private static readonly nint CpuLibrary = LoadCpuLibrary();

    private static nint LoadCpuLibrary()
    {
        var library = NativeLibrary.Load(
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "noavx", "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(library, "ggml_cpu_init"))();
        return library;
    }

    /// <summary>ggml_type enum values (ggml.h) of the formats under test.</summary>
    public static int TypeId(string name) => name switch
    {
        "q4_0" => 2, "q4_1" => 3, "q5_0" => 6, "q5_1" => 7, "q8_0" => 8,
        "q2_K" => 10, "q3_K" => 11, "q4_K" => 12, "q5_K" => 13, "q6_K" => 14, "iq4_nl" => 20, "iq4_xs" => 23,
        "tq1_0" => 34, "tq2_0" => 35, "iq2_xxs" => 16, "iq2_xs" => 17, "iq3_xxs" => 18, "iq1_s" => 19, "iq3_s" => 21,
        "iq2_s" => 22, "iq1_m" => 29,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no ggml type id recorded"),
    };

    public static string TypeName(int type) =>
        Marshal.PtrToStringUTF8(((delegate* unmanaged<int, nint>)Export("ggml_type_name"))(type))!;

    public static long BlockValues(int type) => ((delegate* unmanaged<int, long>)Export("ggml_blck_size"))(type);

    public static nuint BlockBytes(int type) => ((delegate* unmanaged<int, nuint>)Export("ggml_type_size"))(type);

    /// <summary>ggml's dequantize_row_{name} of <paramref name="values"/> values.</summary>
    public static float[] Dequantize(string name, byte[] blocks, int values)
    {
        var y = new float[values];
        var f = (delegate* unmanaged<byte*, float*, long, void>)Export("dequantize_row_" + name);
        fixed (byte* x = blocks)
        fixed (float* py = y)
            f(x, py, values);
        return y;
    }

    /// <summary>Quantises <paramref name="rows"/> rows of <paramref name="values"/> as llama.cpp's quantizer does:
    /// without an importance matrix, except for the low-bit IQ types (IQ1/IQ2/IQ3), which llama.cpp will not make
    /// without one; they get an all-ones matrix (every column equally important). Returns the blocks and the byte
    /// count ggml reports.</summary>
    public static (byte[] Blocks, nuint Written) Quantize(string name, float[] values, int rows, int byteCount)
    {
        var dst = new byte[byteCount];
        var columns = values.Length / rows;
        var importance = NeedsImportance(name) ? Enumerable.Repeat(1f, columns).ToArray() : null;
        var type = TypeId(name);
        // Builds the IQ types' search tables (lattice maps and neighbours); a no-op for the others.
        ((delegate* unmanaged<int, void>)Export("ggml_quantize_init"))(type);
        var f = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)Export("ggml_quantize_chunk");
        fixed (float* src = values)
        fixed (byte* d = dst)
        fixed (float* w = importance)
        {
            var written = f(type, src, d, 0, rows, columns, w);
            return (dst, written);
        }
    }

    private static bool NeedsImportance(string name) =>
        name.StartsWith("iq1", StringComparison.Ordinal) || name.StartsWith("iq2", StringComparison.Ordinal) ||
        name.StartsWith("iq3", StringComparison.Ordinal);

    /// <summary>ggml's quantize_row_q8_K_ref into <paramref name="dst"/> (which it only partly writes for an all-zero
    /// block, so callers pass a zeroed buffer).</summary>
    public static void QuantizeQ8K(float[] values, byte[] dst)
    {
        var f = (delegate* unmanaged<float*, byte*, long, void>)Export("quantize_row_q8_K_ref");
        fixed (float* src = values)
        fixed (byte* d = dst)
            f(src, d, values.Length);
    }

    /// <summary>llama.cpp's dot of a row of <paramref name="name"/> blocks with a row of Q8_K activation blocks
    /// (ggml_vec_dot_{name}_q8_K), over <paramref name="values"/> values.</summary>
    public static float VecDotQ8K(string name, byte[] weights, byte[] activations, int values)
    {
        var f = (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)
            NativeLibrary.GetExport(CpuLibrary, $"ggml_vec_dot_{name}_q8_K");
        float s;
        fixed (byte* w = weights)
        fixed (byte* a = activations)
            f(values, &s, 0, w, 0, a, 0, 1);
        return s;
    }

    /// <summary>ggml's quantize_row_q8_0_ref: the q8_0 activation blocks (f16 d, 32 int8) the 32-value types dot with.</summary>
    public static byte[] QuantizeQ8_0(float[] values) => QuantizeRow("quantize_row_q8_0_ref", values, 34);

    /// <summary>ggml's quantize_row_q8_1_ref: q8_0's blocks with s = d·Σq beside d (f16 d, f16 s, 32 int8), the
    /// activations Q4_1 and Q5_1 dot with.</summary>
    public static byte[] QuantizeQ8_1(float[] values) => QuantizeRow("quantize_row_q8_1_ref", values, 36);

    /// <summary>One of ggml's quantize_row_*_ref functions over 32-value blocks of <paramref name="blockBytes"/> each.</summary>
    private static byte[] QuantizeRow(string export, float[] values, int blockBytes)
    {
        var dst = new byte[values.Length / 32 * blockBytes];
        var f = (delegate* unmanaged<float*, byte*, long, void>)Export(export);
        fixed (float* src = values)
        fixed (byte* d = dst)
            f(src, d, values.Length);
        return dst;
    }

    /// <summary>llama.cpp's dot of a row of <paramref name="name"/> blocks with q8_0 activation blocks
    /// (ggml_vec_dot_{name}_q8_0), over <paramref name="values"/> values.</summary>
    public static float VecDotQ8_0(string name, byte[] weights, byte[] activations, int values) =>
        VecDot($"ggml_vec_dot_{name}_q8_0", weights, activations, values);

    /// <summary>ggml_vec_dot_{name}_q8_1 (Q4_1, Q5_1) against <see cref="QuantizeQ8_1"/>'s blocks.</summary>
    public static float VecDotQ8_1(string name, byte[] weights, byte[] activations, int values) =>
        VecDot($"ggml_vec_dot_{name}_q8_1", weights, activations, values);

    private static float VecDot(string symbol, byte[] weights, byte[] activations, int values)
    {
        var f = (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)
            NativeLibrary.GetExport(CpuLibrary, symbol);
        float s;
        fixed (byte* w = weights)
        fixed (byte* a = activations)
            f(values, &s, 0, w, 0, a, 0, 1);
        return s;
    }

    private static nint Export(string symbol) => NativeLibrary.GetExport(Library, symbol);
}
