using System.Buffers.Binary;
using System.Runtime.Intrinsics;
using Vib3.Core;

namespace Vib3.Kernels;

/// <summary>Row dot for ggml's legacy Q4_0, Q4_1, Q5_0 and Q5_1 weights, the way llama.cpp computes it: the
/// activations come quantised to q8_0 blocks (<see cref="RowDot.QuantizeQ8"/>: x̂ = q_x·d_x), each block's quant
/// products are summed exactly in integers, and the block adds d_w·d_x·Σ q_w·q_x (+ m_w·d_x·Σ q_x for the _1 types,
/// whose min multiplies every activation of the block). That Σ q_x·d_x is q8_1's "s", rounded to f16 as llama.cpp
/// stores it (<see cref="RowDot.QuantizeQ8"/>'s xs): the f16 rounding moves a 32-value dot by up to ~1e-3, more than
/// the differential tests' bound allows over a model, so vib3 reproduces it. The block's integer products use
/// Vector256 where it is accelerated; the float work stays one multiply-add per block.</summary>
internal static unsafe class BlockRowDot
{
    private const int Half = DTypes.LegacyBlockSize / 2;

    public static float Dot(DType t, byte* row, short* xq, float* xd, float* xs, int blocks)
    {
        // Where each field sits in the block (d always first), decided once per row, not per block:
        // Q4_0 d·qs, Q4_1 d·m·qs, Q5_0 d·qh·qs, Q5_1 d·m·qh·qs; -1 for a field the type lacks.
        var (mAt, qhAt, qsAt, offset) = t switch
        {
            DType.Q4_0 => (-1, -1, 2, -8),
            DType.Q4_1 => (2, -1, 4, 0),
            DType.Q5_0 => (-1, 2, 6, -16),
            DType.Q5_1 => (2, 4, 8, 0),
            _ => throw new ArgumentOutOfRangeException(nameof(t), t, "not a legacy 4/5-bit block type"),
        };
        var blockBytes = t.Layout().BlockBytes;
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * blockBytes;
            var qh = qhAt < 0 ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(w + qhAt, 4));
            var block = F16(w) * xd[b] * Products(w + qsAt, qh, offset, xq + b * DTypes.LegacyBlockSize);
            sum += mAt < 0 ? block : block + F16(w + mAt) * xs[b];
        }
        return sum;
    }

    /// <summary>True for the types whose activations need q8_1's block sums.</summary>
    public static bool NeedsSums(DType t) => t is DType.Q4_1 or DType.Q5_1;

    /// <summary>Σ_j (q_w,j + offset)·q_x,j over one block, exact in int (|sum| ≤ 32·16·128), so the vector and scalar
    /// forms give the same bits.</summary>
    internal static int Products(byte* qs, uint qh, int offset, short* q) =>
        Vector256.IsHardwareAccelerated ? ProductsVector(qs, qh, offset, q) : ProductsScalar(qs, qh, offset, q);

    /// <summary>Vector256 (portable; AVX2 on x86): the 16 nibble bytes become 32 int16 weights, the fifth bits come
    /// from qh by testing one bit per lane, and the int16 products (|p| ≤ 16·127) are widened to int32 and summed.</summary>
    internal static int ProductsVector(byte* qs, uint qh, int offset, short* q)
    {
        var bytes = Vector128.Load(qs);
        var lo = Vector256.WidenLower(Vector256.Create(bytes & Vector128.Create((byte)0x0F), Vector128<byte>.Zero)).AsInt16();
        var hi = Vector256.WidenLower(Vector256.Create(Vector128.ShiftRightLogical(bytes, 4), Vector128<byte>.Zero)).AsInt16();
        if (qh != 0)
        {
            lo |= FifthBits((ushort)qh);
            hi |= FifthBits((ushort)(qh >> 16));
        }
        var shift = Vector256.Create((short)offset);
        var p0 = (lo + shift) * Vector256.Load(q);
        var p1 = (hi + shift) * Vector256.Load(q + Half);
        var (a0, a1) = Vector256.Widen(p0);
        var (b0, b1) = Vector256.Widen(p1);
        return Vector256.Sum(a0 + a1 + b0 + b1);
    }

    private static readonly Vector256<short> LaneBits =
        Vector256.Create(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, unchecked((short)0x8000));

    /// <summary>16 in lane j where bit j of <paramref name="bits"/> is set, else 0.</summary>
    private static Vector256<short> FifthBits(ushort bits) =>
        ~Vector256.Equals(Vector256.Create((short)bits) & LaneBits, Vector256<short>.Zero) & Vector256.Create((short)16);

    internal static int ProductsScalar(byte* qs, uint qh, int offset, short* q)
    {
        var s = 0;
        for (var j = 0; j < Half; j++)
        {
            var lo = (qs[j] & 0x0F) | (int)((qh >> j) & 1) << 4;
            var hi = (qs[j] >> 4) | (int)((qh >> (j + Half)) & 1) << 4;
            s += (lo + offset) * q[j] + (hi + offset) * q[j + Half];
        }
        return s;
    }

    private static float F16(byte* p) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(p, 2)));
}
