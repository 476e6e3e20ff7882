using Vib3.Core;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>MatVec on the block formats computes what llama.cpp's integer dots compute: the same quantised activations
/// and the same integer sub-block sums, so the two differ only by f32 summation order — a bound far below one unit of
/// any integer product, so a wrong quant, scale, min or activation rounding fails it.</summary>
public class MatVecGgmlDotTests
{
    private static readonly int[] Seeds = [1, 2, 3, 4, 5];

    /// <summary>Per value, |scale·q|·|x̂| + |min|·|x̂|: the magnitude the f32 roundings are relative to.</summary>
    private static double Magnitude(BlockFormatCase f, byte[] row, float[] xHat)
    {
        var q = new sbyte[f.BlockValues];
        var scales = new float[f.BlockValues / f.SubBlockValues];
        var mins = new float[scales.Length];
        double m = 0;
        for (var b = 0; b < row.Length / f.BlockBytes; b++)
        {
            f.Unpack(row.AsSpan(b * f.BlockBytes, f.BlockBytes), q, scales, mins);
            for (var i = 0; i < f.BlockValues; i++)
            {
                var s = i / f.SubBlockValues;
                m += (Math.Abs((double)scales[s] * q[i]) + Math.Abs(mins[s])) * Math.Abs(xHat[b * f.BlockValues + i]);
            }
        }
        return m;
    }

    /// <summary>f32 rounding of ≤ blocks + 8 partial sums (ggml keeps eight lanes), each a relative 2^-24 per step.</summary>
    private static double Bound(int blocks, double magnitude) => (blocks + 10) * Math.Pow(2, -23) * magnitude + 1e-30;

    private static DType TypeOf(string ggmlName) => DTypes.Parse(ggmlName);

    [Theory]
    [MemberData(nameof(BlockFormatCase.Q8KPaired), MemberType = typeof(BlockFormatCase))]
    public void MatVec_EqualsLlamaCppsQ8KDot(string name)
    {
        var f = BlockFormatCase.Get(name);
        foreach (var seed in Seeds)
            foreach (var blocks in new[] { 1, 3, 16 })
            {
                var rng = new Random(seed);
                var n = blocks * f.BlockValues;
                var row = f.RandomBlocks(rng, blocks);
                var x = TestData.Floats(rng, n, 4f);
                var xq = new byte[blocks * Q8K.BlockBytes];
                GgmlReference.QuantizeQ8K(x, xq);
                var xHat = new float[n];
                for (var i = 0; i < n; i++)
                    xHat[i] = BitConverter.ToSingle(xq, i / 256 * Q8K.BlockBytes) * (sbyte)xq[i / 256 * Q8K.BlockBytes + 4 + i % 256];
                var y = new float[1];
                MatVec.Compute(TypeOf(name), row, 1, n, x, y);
                var llama = GgmlReference.VecDotQ8K(name, row, xq, n);
                var bound = Bound(blocks, Magnitude(f, row, xHat));
                Assert.True(Math.Abs((double)y[0] - llama) <= bound,
                    $"{name} seed {seed} {blocks} blocks: vib3 {y[0]}, llama.cpp {llama}, allowed {bound}");
            }
    }

    [Fact]
    public void MatVec_Iq4Nl_EqualsLlamaCppsQ8_0Dot()
    {
        var f = BlockFormatCase.Get("iq4_nl");
        foreach (var seed in Seeds)
            foreach (var blocks in new[] { 1, 3, 64 })
            {
                var rng = new Random(seed);
                var n = blocks * f.BlockValues;
                var row = f.RandomBlocks(rng, blocks);
                var x = TestData.Floats(rng, n, 4f);
                var xq = GgmlReference.QuantizeQ8_0(x);
                var xHat = new float[n];
                for (var i = 0; i < n; i++)
                    xHat[i] = (float)BitConverter.ToHalf(xq, i / 32 * 34) * (sbyte)xq[i / 32 * 34 + 2 + i % 32];
                var y = new float[1];
                MatVec.Compute(DType.IQ4_NL, row, 1, n, x, y);
                var llama = GgmlReference.VecDotQ8_0("iq4_nl", row, xq, n);
                var bound = Bound(blocks, Magnitude(f, row, xHat));
                Assert.True(Math.Abs((double)y[0] - llama) <= bound,
                    $"iq4_nl seed {seed} {blocks} blocks: vib3 {y[0]}, llama.cpp {llama}, allowed {bound}");
            }
    }
}
