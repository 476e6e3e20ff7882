using Vib3.Core;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// vib3's quantizers (DTypeConvert.FromF32 for every writable block type) against ggml's own quantizer without an
/// importance matrix (ggml_quantize_chunk, what llama.cpp's llama-quantize runs), byte for byte, on rows that reach
/// every branch: Gaussian rows at magnitudes from 1e-20 to 1e4, outliers, all-zero, all-equal (positive and
/// negative), sub-blocks below ggml's zero threshold next to normal ones, sparse rows and exact ties.
/// </summary>
public class QuantizerTests
{
    /// <summary>vib3's type, ggml's name for it.</summary>
    public static readonly TheoryData<string, string> Writable = new()
    {
        { "q4_k", "q4_K" }, { "q6_k", "q6_K" }, { "q5_k", "q5_K" }, { "q3_k", "q3_K" }, { "q2_k", "q2_K" },
        { "q4_0", "q4_0" }, { "q4_1", "q4_1" }, { "q5_0", "q5_0" }, { "q5_1", "q5_1" }, { "q8_0", "q8_0" }, { "iq4_xs", "iq4_xs" },
    };

    private const int Cols = 1024;

    [Theory]
    [MemberData(nameof(Writable))]
    public void FromF32_GaussianRowsOfEveryMagnitude_SameBytesAsGgml(string vib3Name, string ggmlName)
    {
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var rng = new Random(seed);
            var exponents = new[] { -20, -12, -7, -3, -1, 0, 1, 2, 4 };
            var x = new float[exponents.Length * Cols];
            for (var r = 0; r < exponents.Length; r++)
            {
                var scale = MathF.Pow(10, exponents[r]);
                for (var c = 0; c < Cols; c++)
                    x[r * Cols + c] = Gaussian(rng) * scale * (c % 61 == 0 ? 12 : 1);
            }
            AssertSameBytes(vib3Name, ggmlName, x, $"seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(Writable))]
    public void FromF32_EdgeRows_SameBytesAsGgml(string vib3Name, string ggmlName)
    {
        var rows = new List<float[]>
        {
            new float[Cols], // all zero
            Enumerable.Repeat(0.75f, Cols).ToArray(),
            Enumerable.Repeat(-3.5f, Cols).ToArray(),
            Enumerable.Repeat(1e-17f, Cols).ToArray(), // below GROUP_MAX_EPS everywhere
            Enumerable.Range(0, Cols).Select(i => (float)((i % 17) - 8)).ToArray(), // small integers: exact ties
            Enumerable.Range(0, Cols).Select(i => i % 64 == 5 ? 2.5f : 0f).ToArray(), // sparse
            Enumerable.Range(0, Cols).Select(i => i % 2 == 0 ? 1f : -1f).ToArray(), // ± equal magnitudes, first wins
            Enumerable.Range(0, Cols).Select(i => i < 512 ? (float)i : -(float)i).ToArray(), // all positive / negative halves
        };
        var rng = new Random(9);
        // Sub-blocks of wildly different magnitudes in one super-block, some below ggml's zero threshold.
        rows.Add(Enumerable.Range(0, Cols).Select(i => Gaussian(rng) * MathF.Pow(10, (i / 16 % 5) * 4 - 16)).ToArray());
        // Only positive values (min 0) and only negative ones.
        rows.Add(Enumerable.Range(0, Cols).Select(_ => MathF.Abs(Gaussian(rng)) + 0.1f).ToArray());
        rows.Add(Enumerable.Range(0, Cols).Select(_ => -MathF.Abs(Gaussian(rng)) - 0.1f).ToArray());
        AssertSameBytes(vib3Name, ggmlName, rows.SelectMany(r => r).ToArray(), "edge rows");
    }

    [Theory]
    [MemberData(nameof(Writable))]
    public void FromF32_ASpanSplitAcrossThreads_SameBytesAsGgml(string vib3Name, string ggmlName)
    {
        // Several of RowQuantizer's parallel work items, the last one partial.
        var rng = new Random(17);
        var x = new float[5 * RowQuantizer<Q4KQuantizer>.ValuesPerTask / 2 + 4 * Cols];
        for (var i = 0; i < x.Length; i++) x[i] = Gaussian(rng) * (i / Cols % 3 == 0 ? 0.02f : 1f);
        AssertSameBytes(vib3Name, ggmlName, x, "parallel span");
    }

    private static void AssertSameBytes(string vib3Name, string ggmlName, float[] x, string what)
    {
        var type = DTypes.Parse(vib3Name);
        Assert.True(type.IsWritable());
        var rows = x.Length / Cols;
        var byteCount = (int)type.ByteCount(x.Length);
        var (ggml, written) = GgmlReference.Quantize(ggmlName, x, rows, byteCount);
        Assert.Equal((nuint)byteCount, written);
        var mine = new byte[byteCount];
        DTypeConvert.FromF32(type, x, mine);
        var block = type.Layout().BlockBytes;
        for (var i = 0; i < byteCount; i++)
            if (mine[i] != ggml[i])
            {
                var b = i / block;
                Assert.Fail($"{vib3Name} {what}: byte {i} (row {(long)b * type.BlockSize() / Cols}, block {b}, offset {i % block}) " +
                    $"is {mine[i]}, ggml {ggml[i]}; block values start {string.Join(", ", x.Skip(b * type.BlockSize()).Take(4))}");
            }
    }

    private static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
}
