using System.Runtime.Intrinsics.X86;
using Vib3.Core.Quant;
using Vib3.Kernels.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>
/// The interleaved 8-row tile kernel (<see cref="TileDot{TFormat}"/>) on its own: its repack puts every quant where
/// the broadcast activations meet it, and its int16 sub-block sums stay exact at the formats' extremes, where random
/// blocks (<see cref="BlockBatchTests"/>, the main proof of batch = row kernel) rarely go.
/// </summary>
public unsafe class TileDotTests
{
    private const int Rows = KQuantTiles.Rows;

    [Fact]
    public void Repack_Q4K_GivesBackEveryQuant() => RepackGivesBackEveryQuant<Q4KDot>("q4_K");

    [Fact]
    public void Repack_Q5K_GivesBackEveryQuant() => RepackGivesBackEveryQuant<Q5KDot>("q5_K");

    [Fact]
    public void Repack_Q6K_GivesBackEveryQuant() => RepackGivesBackEveryQuant<Q6KDot>("q6_K");

    /// <summary>Chunk c of the repacked block holds row r's values 8c…8c+7 in qword r.</summary>
    private static void RepackGivesBackEveryQuant<TFormat>(string name) where TFormat : IInterleavedFormat
    {
        Assert.SkipUnless(Avx512BW.IsSupported, "the tile kernel needs AVX-512BW");
        var format = BlockFormatCase.Get(name);
        // Rows two blocks wide, the second block repacked: a row stride that is not the block size.
        var w = format.RandomBlocks(new Random(21), Rows * 2);
        var dst = new byte[TileDot<TFormat>.BlockStride];
        var staging = new byte[Rows * 16 * sizeof(short)];
        fixed (byte* pw = w)
        fixed (byte* pd = dst)
        fixed (byte* ps = staging)
        {
            var block = pw + format.BlockBytes;
            TileDot<TFormat>.Repack(block, 2 * format.BlockBytes, pd, ps);
            for (var r = 0; r < Rows; r++)
                for (var p = 0; p < Q8K.BlockValues; p++)
                    Assert.Equal(TFormat.Quant(block + r * 2 * format.BlockBytes, p), pd[64 * (p / 8) + 8 * r + p % 8]);
        }
    }

    [Fact]
    public void ExtremeBlocks_Q4K_SameBitsAsRowKernel()
    {
        // Every nibble 15, every 6-bit scale and min 63 (the table all ones), d = dmin = 1.
        var block = Enumerable.Repeat((byte)0xFF, 144).ToArray();
        SetHalf(block, 0, 1);
        SetHalf(block, 2, 1);
        ExtremeBlocksSameBitsAsRowKernel<Q4KDot>(block, [block]);
    }

    [Fact]
    public void ExtremeBlocks_Q5K_SameBitsAsRowKernel()
    {
        // Every quant 31 (nibbles and fifth bits all ones), every 6-bit scale and min 63, d = dmin = 1.
        var block = Enumerable.Repeat((byte)0xFF, 176).ToArray();
        SetHalf(block, 0, 1);
        SetHalf(block, 2, 1);
        ExtremeBlocksSameBitsAsRowKernel<Q5KDot>(block, [block]);
    }

    [Fact]
    public void ExtremeBlocks_Q6K_SameBitsAsRowKernel()
    {
        // Every quant 63 (ql, qh all ones), scales 127 or −128, d = 1.
        var positive = Enumerable.Repeat((byte)0xFF, 210).ToArray();
        for (var s = 0; s < 16; s++) positive[192 + s] = 127;
        SetHalf(positive, 208, 1);
        var negative = (byte[])positive.Clone();
        for (var s = 0; s < 16; s++) negative[192 + s] = 0x80;
        ExtremeBlocksSameBitsAsRowKernel<Q6KDot>(positive, [positive, negative]);
    }

    /// <summary>Eight rows of <paramref name="blocks"/> (cycled) against activations all +1, all −1 and alternating
    /// (q8_K quants ±127, the largest products), each twice and +1 once more (seven inputs: one four-input pass, then
    /// three one at a time): the tile's outputs, from the rows repacked and from the rows held interleaved (where the
    /// CPU has AVX-512 VBMI), equal the scalar row kernel's, and the format's int16 pair sums provably fit
    /// (<see cref="TileDot{TFormat}.PairSumsFit"/>).</summary>
    private static void ExtremeBlocksSameBitsAsRowKernel<TFormat>(byte[] first, byte[][] blocks) where TFormat : IInterleavedFormat
    {
        Assert.SkipUnless(Avx512BW.IsSupported, "the tile kernel needs AVX-512BW");
        Assert.True(TileDot<TFormat>.PairSumsFit);
        const int width = 2;
        var rowBytes = width * first.Length;
        var w = new byte[Rows * rowBytes];
        for (var i = 0; i < Rows * width; i++) blocks[i % blocks.Length].CopyTo(w, i * first.Length);
        var cols = width * Q8K.BlockValues;
        float[][] inputs =
        [
            Enumerable.Repeat(1f, cols).ToArray(),
            Enumerable.Repeat(-1f, cols).ToArray(),
            Enumerable.Range(0, cols).Select(i => i % 2 == 0 ? 1f : -1f).ToArray(),
        ];
        inputs = [.. inputs, .. inputs, inputs[0]];
        long stride = width * Q8K.BlockBytes;
        var q8k = new byte[inputs.Length * stride];
        for (var k = 0; k < inputs.Length; k++) Q8K.Quantize(inputs[k], q8k.AsSpan((int)(k * stride), (int)stride));
        var y = new float[inputs.Length * Rows];
        var fromInterleaved = new float[inputs.Length * Rows];
        var interleaved = (byte[])w.Clone();
        var canInterleave = Avx512Vbmi.IsSupported;
        fixed (byte* pw = w)
        fixed (byte* pi = interleaved)
        fixed (byte* px = q8k)
        fixed (float* py = y)
        fixed (float* pf = fromInterleaved)
        {
            TileDot<TFormat>.Dot(pw, rowBytes, px, stride, inputs.Length, width, py, Rows);
            if (canInterleave)
            {
                for (var b = 0; b < width; b++) TFormat.Interleave(pw + b * first.Length, rowBytes, pi + b * Rows * first.Length);
                TileDot<TFormat>.DotInterleaved(pi, px, stride, inputs.Length, width, pf, Rows);
            }
            for (var k = 0; k < inputs.Length; k++)
                for (var r = 0; r < Rows; r++)
                {
                    float expected;
                    KQuantRow.Run<TFormat, ScalarSums<TFormat>>(pw + r * rowBytes, px + k * stride, 0, 1, width, &expected);
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(py[k * Rows + r]),
                        $"input {k} row {r}: {py[k * Rows + r]} vs row kernel {expected}");
                    if (canInterleave)
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(pf[k * Rows + r]),
                            $"interleaved, input {k} row {r}: {pf[k * Rows + r]} vs row kernel {expected}");
                }
        }
    }

    private static void SetHalf(byte[] block, int offset, float value) =>
        BitConverter.TryWriteBytes(block.AsSpan(offset, 2), (Half)value);
}
