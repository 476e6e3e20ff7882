using System.Buffers.Binary;
using Vib3.Core;

namespace Vib3.Kernels;

/// <summary>Row dot for ggml's legacy Q4_0, Q4_1, Q5_0 and Q5_1 weights, the way llama.cpp computes it: the
/// activations come quantised to q8_0 blocks (<see cref="RowDot.QuantizeQ8"/>: x̂ = q_x·d_x), each block's quant
/// products are summed exactly in integers, and the block adds d_w·d_x·Σ q_w·q_x (+ m_w·d_x·Σ q_x for the _1 types,
/// whose min multiplies every activation of the block). That Σ q_x·d_x is q8_1's "s", rounded to f16 as llama.cpp
/// stores it (<see cref="RowDot.QuantizeQ8"/>'s xs): the f16 rounding moves a 32-value dot by up to ~1e-3, more than
/// the differential tests' bound allows over a model, so vib3 reproduces it. Scalar: no SIMD path yet.</summary>
internal static unsafe class BlockRowDot
{
    private const int Half = DTypes.LegacyBlockSize / 2;

    public static float Dot(DType t, byte* row, short* xq, float* xd, float* xs, int blocks)
    {
        var blockBytes = t.Layout().BlockBytes;
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            var w = row + (long)b * blockBytes;
            var q = xq + b * DTypes.LegacyBlockSize;
            var d = F16(w) * xd[b];
            switch (t)
            {
                case DType.Q4_0:
                    sum += d * Products(w + 2, 0, -8, q);
                    break;
                case DType.Q5_0:
                    sum += d * Products(w + 6, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(w + 2, 4)), -16, q);
                    break;
                case DType.Q4_1:
                    sum += d * Products(w + 4, 0, 0, q) + F16(w + 2) * xs[b];
                    break;
                case DType.Q5_1:
                    sum += d * Products(w + 8, BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(w + 4, 4)), 0, q) +
                           F16(w + 2) * xs[b];
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(t), t, "not a legacy 4/5-bit block type");
            }
        }
        return sum;
    }

    /// <summary>True for the types whose activations need q8_1's block sums.</summary>
    public static bool NeedsSums(DType t) => t is DType.Q4_1 or DType.Q5_1;

    /// <summary>Σ_j (q_w,j + offset)·q_x,j over one block, exact in int (|sum| ≤ 32·16·128).</summary>
    private static int Products(byte* qs, uint qh, int offset, short* q)
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
