using Vib3.Core.Quant;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// The K-quant × Q8_K integer row dots: every vector tier this CPU runs gives the scalar twin's bits (the integer
/// sub-block sums are exact and the float order is shared) at every block count and for 1–4 activation rows at once,
/// and the fastest tier matches llama.cpp's ggml_vec_dot_*_q8_K within float-order rounding.
/// </summary>
public unsafe class KQuantDotTests
{
    internal delegate void Kernel(IntegerTier tier, byte* row, byte* q8k, long stride, int inputs, int blocks, float* output);

    public static readonly TheoryData<string> Types = new("q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_xs", "tq1_0", "tq2_0",
        "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m");

    private static Kernel KernelOf(string name) => name switch
    {
        "q4_K" => Q4KDot.Dot,
        "q6_K" => Q6KDot.Dot,
        "q5_K" => Q5KDot.Dot,
        "q3_K" => Q3KDot.Dot,
        "q2_K" => Q2KDot.Dot,
        "iq4_xs" => IQ4XSDot.Dot,
        "tq1_0" => TQ1_0Dot.Dot,
        "tq2_0" => TQ2_0Dot.Dot,
        "iq2_xxs" => IQ2XXSDot.Dot,
        "iq2_xs" => IQ2XSDot.Dot,
        "iq2_s" => IQ2SDot.Dot,
        "iq3_xxs" => IQ3XXSDot.Dot,
        "iq3_s" => IQ3SDot.Dot,
        "iq1_s" => IQ1SDot.Dot,
        "iq1_m" => IQ1MDot.Dot,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    private static IEnumerable<IntegerTier> VectorTiers() =>
        Enum.GetValues<IntegerTier>().Where(t => t != IntegerTier.Scalar && IntegerTiers.IsSupported(t));

    /// <summary><paramref name="rows"/> rows of <paramref name="blocks"/> Q8_K blocks from random activations whose
    /// magnitude varies per block (so d varies over many decades).</summary>
    internal static byte[] Activations(Random rng, int rows, int blocks)
    {
        var x = new float[rows * blocks * Q8K.BlockValues];
        for (var b = 0; b < rows * blocks; b++)
        {
            var scale = MathF.Pow(10, rng.Next(-3, 3));
            for (var j = 0; j < Q8K.BlockValues; j++) x[b * Q8K.BlockValues + j] = (float)(rng.NextDouble() * 2 - 1) * scale;
        }
        var q = new byte[rows * blocks * Q8K.BlockBytes];
        Q8K.Quantize(x, q);
        return q;
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryTier_EveryBlockCount_SameBitsAsScalar(string name)
    {
        var f = BlockFormatCase.Get(name);
        var kernel = KernelOf(name);
        var rng = new Random(7);
        for (var blocks = 1; blocks <= 24; blocks++)
        {
            var w = f.RandomBlocks(rng, blocks);
            var x = Activations(rng, KQuantRow.MaxInputs, blocks);
            long stride = blocks * Q8K.BlockBytes;
            var scalar = new float[KQuantRow.MaxInputs];
            var got = new float[KQuantRow.MaxInputs];
            fixed (byte* pw = w)
            fixed (byte* px = x)
            fixed (float* ps = scalar)
            fixed (float* pg = got)
            {
                for (var k = 0; k < KQuantRow.MaxInputs; k++) kernel(IntegerTier.Scalar, pw, px + k * stride, 0, 1, blocks, ps + k);
                Assert.All(scalar, s => Assert.True(float.IsFinite(s)));
                foreach (var tier in VectorTiers().Append(IntegerTier.Scalar))
                    for (var inputs = 1; inputs <= KQuantRow.MaxInputs; inputs++)
                    {
                        kernel(tier, pw, px, stride, inputs, blocks, pg);
                        for (var k = 0; k < inputs; k++)
                            Assert.True(BitConverter.SingleToInt32Bits(scalar[k]) == BitConverter.SingleToInt32Bits(got[k]),
                                $"{name} {tier} blocks={blocks} inputs={inputs} row {k}: {got[k]} vs scalar {scalar[k]}");
                    }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void FastestTier_MatchesGgmlVecDot(string name)
    {
        var f = BlockFormatCase.Get(name);
        var kernel = KernelOf(name);
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var rng = new Random(seed);
            foreach (var blocks in new[] { 1, 2, 3, 16, 17 })
            {
                var values = blocks * f.BlockValues;
                // A row llama.cpp's quantizer made, and a row of random bytes (every quant pattern, finite scales).
                var gaussian = new float[values];
                for (var i = 0; i < values; i++) gaussian[i] = (float)(rng.NextDouble() * 2 - 1);
                var quantised = GgmlReference.Quantize(name, gaussian, 1, blocks * f.BlockBytes).Blocks;
                foreach (var w in new[] { quantised, f.RandomBlocks(rng, blocks) })
                {
                    var x = Activations(rng, 1, blocks);
                    float mine;
                    fixed (byte* pw = w)
                    fixed (byte* px = x)
                        kernel(IntegerTiers.Best, pw, px, 0, 1, blocks, &mine);
                    var ggml = GgmlReference.VecDotQ8K(name, w, x, values);
                    var bound = 1e-5 * AbsProducts(f, w, x, values) + 1e-30;
                    Assert.True(Math.Abs((double)mine - ggml) <= bound,
                        $"{name} seed {seed} blocks={blocks}: {mine} vs ggml {ggml} (bound {bound})");
                }
            }
        }
    }

    /// <summary>Σ |w_i·x̂_i| of the dequantised operands: the scale of the rounding two float orders can differ by.</summary>
    private static double AbsProducts(BlockFormatCase f, byte[] w, byte[] x, int values)
    {
        var wf = new float[values];
        f.Dequantize(w, wf);
        double sum = 0;
        for (var i = 0; i < values; i++)
        {
            var block = i / Q8K.BlockValues;
            var d = BitConverter.ToSingle(x, block * Q8K.BlockBytes);
            var q = (sbyte)x[block * Q8K.BlockBytes + Q8K.QuantsOffset + i % Q8K.BlockValues];
            sum += Math.Abs((double)wf[i] * d * q);
        }
        return sum;
    }

    [Fact]
    public void MoreActivationRowsThanOneCallTakes_AreRefused()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            float* o = stackalloc float[KQuantRow.MaxInputs + 1];
            Q4KDot.Dot(IntegerTier.Scalar, null, null, 0, KQuantRow.MaxInputs + 1, 0, o);
        });
        Assert.Equal("inputs", ex.ParamName);
    }
}
