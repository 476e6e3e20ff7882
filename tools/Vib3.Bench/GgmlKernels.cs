using System.Runtime.InteropServices;

namespace Vib3.Bench;

/// <summary>llama.cpp's CPU row kernels as LLamaSharp.Backend.Cpu ships them (its avx512 build, or its avx2 build on a
/// CPU without AVX-512, as LLamaSharp itself chooses): the quantizer
/// (ggml_quantize_chunk, to make realistic weights), the activation quantisers and ggml_vec_dot_{type}_{q8 type},
/// the per-row integer dot its matvec runs. Loaded by path so the kernel benchmark measures exactly that build.</summary>
internal static unsafe class GgmlKernels
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", Build);

    /// <summary>The build this CPU runs: avx512 needs AVX-512 F/BW (its kernels would stop on an illegal instruction).</summary>
    public static string Build => System.Runtime.Intrinsics.X86.Avx512BW.IsSupported ? "avx512" : "avx2";
    private static readonly nint Base = NativeLibrary.Load(Path.Combine(Folder, "libggml-base.so"));
    private static readonly nint Cpu = LoadCpu();

    private static nint LoadCpu()
    {
        var library = NativeLibrary.Load(Path.Combine(Folder, "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(library, "ggml_cpu_init"))(); // fills its f16 tables
        return library;
    }

    /// <summary>ggml_type ids (ggml.h) and the activation type llama.cpp pairs each weight type with.</summary>
    public static (int Type, int ActivationType, string Activation) Types(string name) => name switch
    {
        "q4_0" => (2, 8, "q8_0"), "q4_1" => (3, 9, "q8_1"), "q5_0" => (6, 8, "q8_0"), "q5_1" => (7, 9, "q8_1"),
        "q8_0" => (8, 8, "q8_0"), "q2_k" => (10, 15, "q8_K"), "q3_k" => (11, 15, "q8_K"), "q4_k" => (12, 15, "q8_K"),
        "q5_k" => (13, 15, "q8_K"), "q6_k" => (14, 15, "q8_K"), "iq4_xs" => (23, 15, "q8_K"), "iq4_nl" => (20, 8, "q8_0"),
        "tq1_0" => (34, 15, "q8_K"), "tq2_0" => (35, 15, "q8_K"), "iq2_xxs" => (16, 15, "q8_K"), "iq2_xs" => (17, 15, "q8_K"),
        "iq2_s" => (22, 15, "q8_K"), "iq3_xxs" => (18, 15, "q8_K"), "iq3_s" => (21, 15, "q8_K"), "iq1_s" => (19, 15, "q8_K"),
        "iq1_m" => (29, 15, "q8_K"),
        "f16" => (1, 1, "f16"), // ggml_vec_dot_f16 takes x converted to f16
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no llama.cpp kernel recorded"),
    };

    public static long RowBytes(int type, long values) =>
        (long)((delegate* unmanaged<int, long, nuint>)NativeLibrary.GetExport(Base, "ggml_row_size"))(type, values);

    /// <summary>Quantises <paramref name="rows"/> rows of <paramref name="x"/> as llama.cpp's quantizer does without
    /// an importance matrix, except for the IQ1/IQ2/IQ3 types (ggml_quantize_requires_imatrix), which it makes only with
    /// one: they get an all-ones matrix (every column equally important).</summary>
    public static byte[] Quantize(int type, float[] x, int rows)
    {
        var cols = x.Length / rows;
        var dst = new byte[RowBytes(type, cols) * rows];
        var requiresImportance = ((delegate* unmanaged<int, byte>)NativeLibrary.GetExport(Base, "ggml_quantize_requires_imatrix"))(type) != 0;
        var importance = requiresImportance ? Enumerable.Repeat(1f, cols).ToArray() : null;
        ((delegate* unmanaged<int, void>)NativeLibrary.GetExport(Base, "ggml_quantize_init"))(type); // the IQ types' search tables
        var f = (delegate* unmanaged<int, float*, byte*, long, long, long, float*, nuint>)NativeLibrary.GetExport(Base, "ggml_quantize_chunk");
        fixed (float* src = x)
        fixed (byte* d = dst)
        fixed (float* w = importance)
            f(type, src, d, 0, rows, cols, w);
        return dst;
    }

    /// <summary>quantize_row_{activation}: the activation row a vec_dot takes.</summary>
    public static byte[] QuantizeActivations(string activation, int activationType, float[] x)
    {
        var dst = new byte[RowBytes(activationType, x.Length)];
        var f = (delegate* unmanaged<float*, byte*, long, void>)NativeLibrary.GetExport(Cpu,
            activation == "f16" ? "ggml_cpu_fp32_to_fp16" : "quantize_row_" + activation);
        fixed (float* src = x)
        fixed (byte* d = dst)
            f(src, d, x.Length);
        return dst;
    }

    public static delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void> VecDot(string weight, string activation) =>
        (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)NativeLibrary.GetExport(Cpu,
            weight == "f16" ? "ggml_vec_dot_f16" : $"ggml_vec_dot_{weight.Replace("_k", "_K")}_{activation}");
}
