using System.Buffers.Binary;
using Vib3.Core;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// The 32-value types' q8_0 integer row dots (<see cref="LegacyDots"/>: Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL): every vector
/// tier this CPU runs gives the scalar twin's bits at every block count (odd and even: both accumulator chains) and
/// for 1–4 activation rows per call, the scalar twin computes the format's own dequantised values exactly where every
/// f32 step is exact, and the fastest tier matches llama.cpp's ggml_vec_dot_*_q8_0 / *_q8_1 on ggml's own activation bytes within float-order rounding.
/// </summary>
public unsafe class LegacyDotTests
{
    private const int BlockValues = DTypes.LegacyBlockSize;

    public static readonly TheoryData<DType> Types = new(DType.Q4_0, DType.Q4_1, DType.Q5_0, DType.Q5_1, DType.IQ4_NL);

    private static IEnumerable<IntegerTier> VectorTiers() =>
        Enum.GetValues<IntegerTier>().Where(t => t != IntegerTier.Scalar && IntegerTiers.IsSupported(t));

    /// <summary>q8_0 activations as the kernels take them: int8 quants, f16-rounded scales, q8_1's f16 block sums.</summary>
    private sealed record Activations(sbyte[] Q, float[] D, float[] S);

    /// <summary><paramref name="blocks"/> blocks of random activations whose magnitude varies per block (d over many
    /// decades), quantised by vib3.</summary>
    private static Activations RandomActivations(Random rng, int blocks)
    {
        var x = new float[blocks * BlockValues];
        for (var b = 0; b < blocks; b++)
        {
            var scale = MathF.Pow(10, rng.Next(-3, 3));
            for (var j = 0; j < BlockValues; j++) x[b * BlockValues + j] = (float)(rng.NextDouble() * 2 - 1) * scale;
        }
        var a = new Activations(new sbyte[x.Length], new float[blocks], new float[blocks]);
        fixed (float* px = x)
        fixed (sbyte* pq = a.Q)
        fixed (float* pd = a.D)
        fixed (float* ps = a.S)
            RowDot.QuantizeQ8Bytes(px, blocks, pq, pd, ps);
        return a;
    }

    private static float Dot(DType t, IntegerTier tier, byte[] w, Activations a)
    {
        fixed (byte* pw = w)
        fixed (sbyte* pq = a.Q)
        fixed (float* pd = a.D)
        fixed (float* ps = a.S)
            return LegacyDots.Dot(t, tier, pw, pq, pd, ps, a.D.Length);
    }

    private static void AssertEveryTierAsScalar(DType t, byte[] w, Activations a, string where)
    {
        var scalar = Dot(t, IntegerTier.Scalar, w, a);
        Assert.True(float.IsFinite(scalar), $"{t} {where}: scalar {scalar}");
        foreach (var tier in VectorTiers())
        {
            var got = Dot(t, tier, w, a);
            Assert.True(BitConverter.SingleToInt32Bits(scalar) == BitConverter.SingleToInt32Bits(got),
                $"{t} {tier} {where}: {got} vs scalar {scalar}");
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void EveryTier_EveryBlockCount_SameBitsAsScalar(DType t)
    {
        var rng = new Random(21 + (int)t);
        foreach (var blocks in Enumerable.Range(1, 24).Append(128).Append(131))
            for (var repeat = 0; repeat < 4; repeat++)
                AssertEveryTierAsScalar(t, TestData.RandomBlocks(rng, t, blocks), RandomActivations(rng, blocks), $"blocks={blocks} #{repeat}");
    }

    /// <summary>One call over 1–4 activation rows (the batch's form, each weight block unpacked once for all of them)
    /// gives every row the bits of that row alone on the scalar twin, on every tier.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void EveryTier_SeveralInputs_EachRowAsAlone(DType t)
    {
        var rng = new Random(31 + (int)t);
        var kernel = LegacyDots.For(t);
        foreach (var blocks in new[] { 1, 2, 3, 8, 17 })
        {
            var w = TestData.RandomBlocks(rng, t, blocks);
            var a = RandomActivations(rng, LegacyRow.MaxInputs * blocks);
            var alone = new float[LegacyRow.MaxInputs];
            for (var k = 0; k < alone.Length; k++) alone[k] = Dot(t, IntegerTier.Scalar, w, Row(a, k, blocks));
            var got = new float[LegacyRow.MaxInputs];
            fixed (byte* pw = w)
            fixed (sbyte* pq = a.Q)
            fixed (float* pd = a.D)
            fixed (float* ps = a.S)
            fixed (float* pg = got)
                foreach (var tier in VectorTiers().Append(IntegerTier.Scalar))
                    for (var inputs = 1; inputs <= LegacyRow.MaxInputs; inputs++)
                    {
                        kernel(tier, pw, pq, pd, ps, inputs, blocks, pg);
                        for (var k = 0; k < inputs; k++)
                            Assert.True(BitConverter.SingleToInt32Bits(alone[k]) == BitConverter.SingleToInt32Bits(got[k]),
                                $"{t} {tier} blocks={blocks} inputs={inputs} row {k}: {got[k]} vs alone {alone[k]}");
                    }
        }
    }

    /// <summary>Row <paramref name="k"/> of activations laid out as rows of <paramref name="blocks"/> blocks.</summary>
    private static Activations Row(Activations a, int k, int blocks) => new(
        a.Q.AsSpan(k * blocks * BlockValues, blocks * BlockValues).ToArray(),
        a.D.AsSpan(k * blocks, blocks).ToArray(),
        a.S.AsSpan(k * blocks, blocks).ToArray());

    [Fact]
    public void MoreActivationRowsThanOneCallTakes_AreRefused()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            float* o = stackalloc float[LegacyRow.MaxInputs + 1];
            LegacyDots.For(DType.Q4_0)(IntegerTier.Scalar, null, null, null, null, LegacyRow.MaxInputs + 1, 0, o);
        });
        Assert.Equal("inputs", ex.ParamName);
    }

    /// <summary>Blocks at the extremes the lanes must hold without saturating (every quant at its largest magnitude,
    /// every activation ±127, all fifth bits set or clear), d = 1 and m = ±1, activation scale 1 and s = Σq_x: every
    /// product and sum is then an integer below 2^24, exact in f32, so each tier must give exactly Σ w·q_x over the
    /// values <see cref="DTypeConvert.ToF32"/> dequantises, which checks the scalar twin's reading of each format.</summary>
    [Theory]
    [MemberData(nameof(Types))]
    public void ExtremeBlocks_EveryTier_ExactlyTheDequantisedDot(DType t)
    {
        var layout = t.Layout();
        var rng = new Random(5);
        byte[] quantBytes = [0x00, 0xFF, 0x0F, 0xF0, 0x88];
        uint[] highBits = [0, uint.MaxValue, 0x5555AAAA];
        const int blocks = 6;
        for (var pattern = 0; pattern < 40; pattern++)
        {
            var w = new byte[blocks * layout.BlockBytes];
            rng.NextBytes(w);
            for (var b = 0; b < blocks; b++)
            {
                var block = w.AsSpan(b * layout.BlockBytes, layout.BlockBytes);
                BinaryPrimitives.WriteUInt16LittleEndian(block, BitConverter.HalfToUInt16Bits((Half)1));
                if (LegacyDots.NeedsSums(t)) BinaryPrimitives.WriteUInt16LittleEndian(block[2..], BitConverter.HalfToUInt16Bits((Half)(b % 2 == 0 ? 1 : -1)));
                var qhAt = t switch { DType.Q5_0 => 2, DType.Q5_1 => 4, _ => -1 };
                if (qhAt >= 0 && pattern % 4 != 3) BinaryPrimitives.WriteUInt32LittleEndian(block[qhAt..], highBits[(pattern + b) % highBits.Length]);
                if (pattern % 4 != 3) block[^16..].Fill(quantBytes[(pattern + b) % quantBytes.Length]);
            }
            var a = new Activations(new sbyte[blocks * BlockValues], Enumerable.Repeat(1f, blocks).ToArray(), new float[blocks]);
            for (var i = 0; i < a.Q.Length; i++)
                a.Q[i] = (pattern % 3) switch { 0 => 127, 1 => (sbyte)(i % 2 == 0 ? 127 : -127), _ => (sbyte)(rng.Next(2) == 0 ? 127 : -127) };
            for (var b = 0; b < blocks; b++)
                for (var j = 0; j < BlockValues; j++) a.S[b] += a.Q[b * BlockValues + j];

            var values = new float[blocks * BlockValues];
            DTypeConvert.ToF32(t, w, values);
            long exact = 0;
            for (var i = 0; i < values.Length; i++) exact += (long)values[i] * a.Q[i];
            foreach (var tier in VectorTiers().Append(IntegerTier.Scalar))
                Assert.Equal((float)exact, Dot(t, tier, w, a));
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void FastestTier_MatchesGgmlVecDot(DType t)
    {
        var name = t.Name();
        var withSums = LegacyDots.NeedsSums(t);
        var blockBytes = t.Layout().BlockBytes;
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var rng = new Random(seed);
            foreach (var blocks in new[] { 1, 3, 16, 17 })
            {
                var n = blocks * BlockValues;
                // A row llama.cpp's quantizer made, and a row of random bytes (every quant pattern).
                var gaussian = TestData.Floats(rng, n);
                var quantised = GgmlReference.Quantize(name, gaussian, 1, blocks * blockBytes).Blocks;
                foreach (var w in new[] { quantised, TestData.RandomBlocks(rng, t, blocks) })
                {
                    var x = TestData.Floats(rng, n, 4f);
                    var ggmlX = withSums ? GgmlReference.QuantizeQ8_1(x) : GgmlReference.QuantizeQ8_0(x);
                    var a = FromGgml(ggmlX, blocks, withSums);
                    var mine = Dot(t, IntegerTiers.Best, w, a);
                    var ggml = withSums ? GgmlReference.VecDotQ8_1(name, w, ggmlX, n) : GgmlReference.VecDotQ8_0(name, w, ggmlX, n);
                    var bound = (blocks + 10) * Math.Pow(2, -23) * Magnitude(t, w, a) + 1e-30;
                    Assert.True(Math.Abs((double)mine - ggml) <= bound, $"{name} seed {seed} blocks={blocks}: {mine} vs ggml {ggml} (bound {bound})");
                }
            }
        }
    }

    /// <summary>ggml's q8_0 (f16 d · 32 int8) or q8_1 (f16 d · f16 s · 32 int8) blocks in the kernels' arrays.</summary>
    private static Activations FromGgml(byte[] blocks, int count, bool withSums)
    {
        var header = withSums ? 4 : 2;
        var a = new Activations(new sbyte[count * BlockValues], new float[count], new float[count]);
        for (var b = 0; b < count; b++)
        {
            var block = blocks.AsSpan(b * (header + BlockValues));
            a.D[b] = (float)BitConverter.ToHalf(block);
            if (withSums) a.S[b] = (float)BitConverter.ToHalf(block[2..]);
            for (var j = 0; j < BlockValues; j++) a.Q[b * BlockValues + j] = (sbyte)block[header + j];
        }
        return a;
    }

    /// <summary>Σ (|w| + 2|m|)·|x̂| over the dequantised weights: at least the magnitude of the scale products and the
    /// min products (|d·q| ≤ |w| + |m|, |m·s| ≤ |m|·Σ|x̂|) that the two float orders round.</summary>
    private static double Magnitude(DType t, byte[] w, Activations a)
    {
        var values = new float[a.Q.Length];
        DTypeConvert.ToF32(t, w, values);
        var blockBytes = t.Layout().BlockBytes;
        double m = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var b = i / BlockValues;
            var min = LegacyDots.NeedsSums(t) ? Math.Abs((double)BitConverter.ToHalf(w, b * blockBytes + 2)) : 0;
            m += (Math.Abs(values[i]) + 2 * min) * Math.Abs(a.D[b] * a.Q[i]);
        }
        return m;
    }

    /// <summary>The int8 quants the 4/5-bit kernels read are the int16 quants the q8_0 kernel reads, with the same
    /// scales and q8_1 sums: one quantiser, two widths (a zero block, ties at x·127/amax = k + ½, random blocks).</summary>
    [Fact]
    public void Int8Quants_EqualTheInt16Quants()
    {
        var rng = new Random(3);
        const int blocks = 64;
        var x = TestData.Floats(rng, blocks * BlockValues, 3f);
        for (var j = 0; j < BlockValues; j++) x[j] = 0;
        for (var j = 0; j < BlockValues; j++) x[BlockValues + j] = j % 2 == 0 ? 127 : j - 0.5f * (j % 4 == 1 ? 1 : -1);
        var wide = new short[x.Length];
        var narrow = new sbyte[x.Length];
        float[] dWide = new float[blocks], dNarrow = new float[blocks], sWide = new float[blocks], sNarrow = new float[blocks];
        fixed (float* px = x)
        fixed (short* pw = wide)
        fixed (sbyte* pn = narrow)
        fixed (float* pdw = dWide)
        fixed (float* pdn = dNarrow)
        fixed (float* psw = sWide)
        fixed (float* psn = sNarrow)
        {
            RowDot.QuantizeQ8(px, blocks, pw, pdw, psw);
            RowDot.QuantizeQ8Bytes(px, blocks, pn, pdn, psn);
        }
        Assert.Equal(wide.Select(q => (int)q), narrow.Select(q => (int)q));
        Assert.Equal(dWide, dNarrow);
        Assert.Equal(sWide, sNarrow);
        Assert.All(narrow.Take(BlockValues), q => Assert.Equal(0, q));
        Assert.Contains(narrow.Skip(BlockValues).Take(BlockValues), q => q == 127);
    }

    [Fact]
    public void AMinFormatWithoutSums_IsRefused()
    {
        var ex = Assert.Throws<ArgumentNullException>(() =>
        {
            var block = stackalloc byte[20];
            var x = stackalloc sbyte[BlockValues];
            var d = 1f;
            LegacyDots.Dot(DType.Q4_1, IntegerTier.Scalar, block, x, &d, null, 1);
        });
        Assert.Equal("xs", ex.ParamName);
    }
}
