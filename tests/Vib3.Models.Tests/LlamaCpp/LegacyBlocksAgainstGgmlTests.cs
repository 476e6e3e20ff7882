using System.Runtime.InteropServices;
using Vib3.Core;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>vib3's reference dequantisers for Q4_0, Q4_1, Q5_0 and Q5_1 against ggml's own dequantize_row_* from
/// the libggml-base.so that LLamaSharp ships (one build for every CPU variant; compiled without FMA, so its _1 types
/// round d·q before adding m, as vib3 does): every value bit for bit, on random blocks that cover every quant bit
/// pattern, both signs of d and m, zero, subnormal, huge, infinite and NaN scales.</summary>
public sealed unsafe class LegacyBlocksAgainstGgmlTests
{
    private const int Blocks = 4096;

    public static TheoryData<DType, string> Types => new()
    {
        { DType.Q4_0, "dequantize_row_q4_0" },
        { DType.Q4_1, "dequantize_row_q4_1" },
        { DType.Q5_0, "dequantize_row_q5_0" },
        { DType.Q5_1, "dequantize_row_q5_1" },
    };

    [Theory]
    [MemberData(nameof(Types))]
    public void Dequantised_values_equal_ggml_bit_for_bit(DType type, string export)
    {
        var ggml = (delegate* unmanaged<byte*, float*, long, void>)NativeLibrary.GetExport(GgmlBase.Value, export);
        var layout = type.Layout();
        var bytes = new byte[Blocks * layout.BlockBytes];
        new Random(18 + (int)type).NextBytes(bytes); // random f16 bit patterns: every class of scale, NaN and inf included
        var scales = new ushort[] { 0x0000, 0x8000, 0x0001, 0x83FF, 0x3C00, 0xBC00, 0x7BFF, 0x7C00, 0xFC00, 0x7E00 };
        for (var b = 0; b < scales.Length; b++) // and each special scale explicitly, in d and in m
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(b * layout.BlockBytes), scales[b]);
            if (type is DType.Q4_1 or DType.Q5_1)
                BitConverter.TryWriteBytes(bytes.AsSpan((b + scales.Length) * layout.BlockBytes + 2), scales[b]);
        }
        var expected = new float[Blocks * layout.BlockValues];
        var actual = new float[expected.Length];
        fixed (byte* pb = bytes)
        fixed (float* py = expected)
            ggml(pb, py, expected.Length);

        DTypeConvert.ToF32(type, bytes, actual);

        for (var i = 0; i < expected.Length; i++)
        {
            var e = BitConverter.SingleToUInt32Bits(expected[i]);
            var a = BitConverter.SingleToUInt32Bits(actual[i]);
            // NaN payloads are not values: any NaN equals any NaN; everything else to the bit.
            if (float.IsNaN(expected[i]) && float.IsNaN(actual[i])) continue;
            Assert.True(e == a, $"{type} value {i} (block {i / layout.BlockValues}): ggml {expected[i]:R} (0x{e:X8}), vib3 {actual[i]:R} (0x{a:X8})");
        }
    }

    public static TheoryData<DType, string, string> Dots => new()
    {
        { DType.Q4_0, "quantize_row_q8_0", "ggml_vec_dot_q4_0_q8_0" },
        { DType.Q4_1, "quantize_row_q8_1", "ggml_vec_dot_q4_1_q8_1" },
        { DType.Q5_0, "quantize_row_q8_0", "ggml_vec_dot_q5_0_q8_0" },
        { DType.Q5_1, "quantize_row_q8_1", "ggml_vec_dot_q5_1_q8_1" },
    };

    /// <summary>vib3's matvec row against ggml's own CPU dot product (activations quantised by ggml's
    /// quantize_row_q8_0/q8_1, then vec_dot): equal up to f32 summation order.</summary>
    [Theory]
    [MemberData(nameof(Dots))]
    public void Row_dot_matches_ggml_vec_dot(DType type, string quantise, string dot)
    {
        var cpu = GgmlCpu.Value;
        var toQ8 = (delegate* unmanaged<float*, byte*, long, void>)NativeLibrary.GetExport(cpu, quantise);
        var vecDot = (delegate* unmanaged<int, float*, nuint, byte*, nuint, byte*, nuint, int, void>)NativeLibrary.GetExport(cpu, dot);
        var rng = new Random(180 + (int)type);
        foreach (var cols in new[] { 32, 64, 256, 1024 })
        {
            var layout = type.Layout();
            var w = new byte[cols / 32 * layout.BlockBytes];
            rng.NextBytes(w);
            for (var b = 0; b < cols / 32; b++)
            {
                BitConverter.TryWriteBytes(w.AsSpan(b * layout.BlockBytes), BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() * 2 - 1) * 0.05)));
                if (type is DType.Q4_1 or DType.Q5_1)
                    BitConverter.TryWriteBytes(w.AsSpan(b * layout.BlockBytes + 2), BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() * 2 - 1) * 0.5)));
            }
            var x = new float[cols];
            for (var i = 0; i < cols; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            var xq = new byte[cols / 32 * 36];
            float expected;
            fixed (float* px = x)
            fixed (byte* pq = xq)
            fixed (byte* pw = w)
            {
                toQ8(px, pq, cols);
                vecDot(cols, &expected, 0, pw, 0, pq, 0, 1);
            }
            var actual = new float[1];
            Vib3.Kernels.MatVec.Compute(type, w, 1, cols, x, actual);
            Assert.True(Math.Abs(actual[0] - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"{type} cols {cols}: ggml {expected:R}, vib3 {actual[0]:R}");
        }
    }

    /// <summary>ggml's base library as LLamaSharp ships it next to the test assembly.</summary>
    private static readonly Lazy<nint> GgmlBase = new(() => NativeLibrary.Load(Native("noavx", "libggml-base.so")));

    /// <summary>ggml's CPU backend (the AVX2 build: what llama.cpp runs on any x86-64 CPU of the last decade).</summary>
    private static readonly Lazy<nint> GgmlCpu = new(() =>
    {
        var cpu = NativeLibrary.Load(Native("avx2", "libggml-cpu.so"));
        ((delegate* unmanaged<void>)NativeLibrary.GetExport(cpu, "ggml_cpu_init"))();
        return cpu;
    });

    private static string Native(string variant, string file)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "runtimes", $"linux-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}", "native");
        var path = Path.Combine(folder, variant, file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"no {variant}/{file} under {folder} (LLamaSharp.Backend.Cpu brings it)");
    }
}
