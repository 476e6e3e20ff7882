using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Vib3.Core.Quant;

/// <summary>
/// ggml's Q8_K, the activation format the K-quant integer dot products take: 256 values in 292 bytes.
/// Bytes 0–3: d (f32, not f16); 4–259: qs, 256 int8 quants; 260–291: bsums, sixteen int16 sums of qs over each run of
/// 16 (so a kernel can apply the sub-block mins without touching qs again). Value ≈ d·q.
/// <see cref="Quantize"/> and <see cref="QuantizeScalar"/> produce the bytes of ggml's quantize_row_q8_K_ref.
/// </summary>
public static class Q8K
{
    public const int BlockValues = 256;
    public const int BlockBytes = 292;

    public const int QuantsOffset = 4;
    public const int SumsOffset = QuantsOffset + BlockValues;
    public const int SumRun = 16;

    /// <summary>Quantises finite activations <paramref name="x"/> (a whole number of blocks) into <paramref name="dst"/>.
    /// Each block scales by −127/(its value of largest magnitude, the first if tied) and rounds half to even
    /// (<see cref="NearestInt"/>), as ggml does; an all-zero block gets d = 0, zero quants and zero sums. Vectorised where Vector256 is
    /// accelerated, with <see cref="QuantizeScalar"/>'s bytes.</summary>
    public static void Quantize(ReadOnlySpan<float> x, Span<byte> dst)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            QuantizeScalar(x, dst);
            return;
        }
        Check(x, dst);
        for (var b = 0; b < x.Length / BlockValues; b++)
            QuantizeBlockVector(x.Slice(b * BlockValues, BlockValues), dst.Slice(b * BlockBytes, BlockBytes));
    }

    /// <summary><see cref="Quantize"/> one value at a time: the definition, and the path where Vector256 is not
    /// accelerated.</summary>
    public static void QuantizeScalar(ReadOnlySpan<float> x, Span<byte> dst)
    {
        Check(x, dst);
        for (var b = 0; b < x.Length / BlockValues; b++)
            QuantizeBlockScalar(x.Slice(b * BlockValues, BlockValues), dst.Slice(b * BlockBytes, BlockBytes));
    }

    private static void Check(ReadOnlySpan<float> x, Span<byte> dst)
    {
        if (x.Length % BlockValues != 0)
            throw new ArgumentException($"q8_K rows hold multiples of {BlockValues} values, got {x.Length}");
        var need = (long)x.Length / BlockValues * BlockBytes;
        if (dst.Length < need) throw new ArgumentException($"q8_K: {x.Length} values need {need} bytes, got {dst.Length}");
    }

    private static void QuantizeBlockScalar(ReadOnlySpan<float> x, Span<byte> block)
    {
        float max = 0, amax = 0;
        foreach (var v in x)
            if (MathF.Abs(v) > amax) { amax = MathF.Abs(v); max = v; }
        block.Clear();
        if (amax == 0) return;
        // −127/max maps the largest-magnitude value to −127 exactly, so no quant reaches −128: ggml's choice, and the
        // bytes must match it.
        var inverseScale = -127f / max;
        var qs = block.Slice(QuantsOffset, BlockValues);
        for (var j = 0; j < BlockValues; j++)
            qs[j] = (byte)(sbyte)Math.Min(127, NearestInt(inverseScale * x[j]));
        for (var r = 0; r < BlockValues / SumRun; r++)
        {
            var sum = 0;
            for (var j = r * SumRun; j < (r + 1) * SumRun; j++) sum += (sbyte)qs[j];
            BinaryPrimitives.WriteInt16LittleEndian(block[(SumsOffset + 2 * r)..], (short)sum);
        }
        BinaryPrimitives.WriteSingleLittleEndian(block, 1f / inverseScale);
    }

    /// <summary>Adding 1.5·2^23 leaves round-half-to-even(v) in the low 22 mantissa bits, for |v| &lt; 2^22: ggml's
    /// nearest_int, reproduced rather than replaced by a round because a block whose largest magnitude is
    /// subnormal makes −127/max infinite, and then its bytes are this trick's (±inf and NaN give −2^22).</summary>
    private const float RoundingBias = 12582912f;

    private const int MantissaMask = 0x7FFFFF;
    private const int MantissaBias = 0x400000;

    private static int NearestInt(float v) => (BitConverter.SingleToInt32Bits(v + RoundingBias) & MantissaMask) - MantissaBias;

    /// <summary>The scalar block's steps eight values at a time: the largest magnitude by a lane-wise max (exact in
    /// any order), its first occurrence for the sign, the same f32 product through <see cref="NearestInt"/>, and each run
    /// of 16 quants summed as int16 (|sum| ≤ 16·127; the one value below −127, −2^22, has zero low 16 bits, like its
    /// low byte), stored in native order as the kernels read them.</summary>
    private static void QuantizeBlockVector(ReadOnlySpan<float> x, Span<byte> block)
    {
        var values = MemoryMarshal.Cast<float, Vector256<float>>(x);
        var amaxLanes = Vector256<float>.Zero;
        foreach (var v in values) amaxLanes = Vector256.MaxNative(amaxLanes, Vector256.Abs(v));
        var amax = HorizontalMax(amaxLanes);
        block.Clear();
        if (amax == 0) return;
        if (!FirstOfMagnitude(x, values, amax, out var max))
        {
            QuantizeBlockScalar(x, block); // a NaN lost the lane-wise max: the scalar's bytes, whatever they are
            return;
        }
        var inverseScale = -127f / max;
        var scale = Vector256.Create(inverseScale);
        var limit = Vector256.Create(127);
        var bias = Vector256.Create(RoundingBias);
        var mantissa = Vector256.Create(MantissaMask);
        var mantissaBias = Vector256.Create(MantissaBias);
        var qs = MemoryMarshal.Cast<byte, Vector256<sbyte>>(block.Slice(QuantsOffset, BlockValues));
        var sums = MemoryMarshal.Cast<byte, short>(block.Slice(SumsOffset, 2 * BlockValues / SumRun));
        Span<Vector256<short>> runs = stackalloc Vector256<short>[2];
        for (var r = 0; r < BlockValues / SumRun; r++)
        {
            var low = Vector256.Min(((values[2 * r] * scale + bias).AsInt32() & mantissa) - mantissaBias, limit);
            var high = Vector256.Min(((values[2 * r + 1] * scale + bias).AsInt32() & mantissa) - mantissaBias, limit);
            var run = Vector256.Narrow(low, high);
            sums[r] = Vector256.Sum(run);
            runs[r % 2] = run;
            if (r % 2 == 1) qs[r / 2] = Vector256.Narrow(runs[0], runs[1]).AsSByte();
        }
        BinaryPrimitives.WriteSingleLittleEndian(block, 1f / inverseScale);
    }

    private static float HorizontalMax(Vector256<float> v)
    {
        var four = Vector128.MaxNative(v.GetLower(), v.GetUpper());
        var two = Vector128.MaxNative(four, Vector128.Shuffle(four, Vector128.Create(2, 3, 0, 1)));
        return MathF.Max(two.ToScalar(), two.GetElement(1));
    }

    /// <summary>The first value whose magnitude is <paramref name="amax"/>: it decides the sign of d. Always found
    /// for finite values.</summary>
    private static bool FirstOfMagnitude(ReadOnlySpan<float> x, ReadOnlySpan<Vector256<float>> values, float amax, out float max)
    {
        var target = Vector256.Create(amax);
        for (var k = 0; k < values.Length; k++)
        {
            var hits = Vector256.Equals(Vector256.Abs(values[k]), target).ExtractMostSignificantBits();
            if (hits == 0) continue;
            max = x[k * Vector256<float>.Count + BitOperations.TrailingZeroCount(hits)];
            return true;
        }
        max = 0;
        return false;
    }
}
