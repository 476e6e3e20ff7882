using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>
/// A K-quant format's interleaved form (Q4_K, Q5_K, Q6_K): the blocks of eight consecutive rows stored together, block b of rows
/// 8g…8g+7 in the <c>8·BlockBytes</c> bytes at group g's start + b·8·BlockBytes, so that a group of eight rows
/// occupies exactly the bytes its rows did. Inside, the quants are already where <see cref="TileDot{TFormat}"/>'s
/// broadcast activations meet them (qword r of a chunk = row r's eight consecutive quants, packed two chunks per
/// byte's nibbles) and the scales are laid out to decode for all eight rows with a few vector permutes: a batch or
/// a single input runs the tile kernel on the bytes as they are, with no repack per call. The same bytes, the same
/// integers and float chains: outputs equal the row kernel's on the rows' plain form bit for bit.
/// </summary>
internal unsafe interface IInterleavedFormat : ITileFormat
{
    /// <summary>The eight rows' block (row r at block + r·rowBytes) into <paramref name="dst"/> (8·BlockBytes).</summary>
    static abstract void Interleave(byte* block, long rowBytes, byte* dst);

    /// <summary>Row r's unsigned quant p (what <see cref="IScalarQuants.Quant"/> gives on the plain block).</summary>
    static abstract int QuantAt(byte* src, int r, int p);

    /// <summary>The eight rows' plain blocks back from the interleaved block at <paramref name="src"/>.</summary>
    static abstract void Deinterleave(byte* src, byte* block, long rowBytes);

    /// <summary>The eight rows' decoded scales into <paramref name="meta"/> (<see cref="TileMeta"/>'s layout).</summary>
    static abstract void Meta(byte* src, float* halves, byte* meta);

    /// <summary>Values 32i…32i+31 of the eight rows (i a constant-stepped loop index, 0–7): four chunks of unsigned
    /// quants, chunk j's qword r = row r's values 32i + 8j … 32i + 8j + 7.</summary>
    static abstract void Group(byte* src, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3);
}

/// <summary>The decoded scales of one block of eight rows, as the tile kernel reads them (in L1, per call): a scale
/// vector per sub-block (int16 4r…4r+3 = row r's scale), the block sums' weights (four vectors, see
/// <see cref="TileDot{TFormat}"/>'s Sums), d and −dmin of the eight rows as f32.</summary>
internal static unsafe class TileMeta
{
    public const int VectorBytes = 64;
    public const int MaxSubBlocks = Q8K.BlockValues / 16;
    public const int Rows = KQuantTiles.Rows;
    public const int SumWeightsOffset = MaxSubBlocks * VectorBytes;
    public const int DOffset = SumWeightsOffset + Rows / 2 * VectorBytes;
    public const int NegativeMinOffset = DOffset + Rows * sizeof(float);
    public const int Bytes = NegativeMinOffset + Rows * sizeof(float);

    /// <summary>vpermb controls: <see cref="ScaleIndex"/>(s) picks byte 8s + r for int16 lanes 4r…4r+3 (the low
    /// 32 bytes; a zero-extension then widens them), from a table whose byte 8s + r is row r's value s.</summary>
    public static Vector512<byte> ScaleIndex(int s)
    {
        var idx = new byte[64];
        for (var m = 0; m < 32; m++) idx[m] = (byte)(8 * s + m / 4);
        return Vector512.Create(idx);
    }

    /// <summary>vpermb control of sum-weight vector k: int16 lane m (in the low 32 bytes' order) takes the weight of
    /// block sum j of row r, where the 128-bit lane ℓ = m/8 holds sums 0–7 (ℓ &lt; 2) or 8–15 (ℓ ≥ 2) of row k
    /// (ℓ even) or k + 4 (ℓ odd); <paramref name="valueOfSum"/> maps a sum j to the table index of the value that
    /// weighs it.</summary>
    public static Vector512<byte> SumIndex(int k, Func<int, int> valueOfSum)
    {
        var idx = new byte[64];
        for (var m = 0; m < 32; m++)
        {
            int lane = m / 8, j = lane / 2 * 8 + m % 8, r = k + 4 * (lane % 2);
            idx[m] = (byte)(8 * valueOfSum(j) + r);
        }
        return Vector512.Create(idx);
    }

    /// <summary>The low 32 bytes of <paramref name="bytes"/> zero-extended to int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> Unsigned(Vector512<byte> bytes) => Avx512BW.ConvertToVector512Int16(bytes.GetLower());

    /// <summary>The low 32 bytes of <paramref name="bytes"/> sign-extended to int16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> Signed(Vector512<byte> bytes) => Avx512BW.ConvertToVector512Int16(bytes.GetLower().AsSByte());

    /// <summary>d (and −dmin) of the eight rows from their f16 values at <paramref name="halfD"/>
    /// (<paramref name="halfDmin"/>, or none).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(float* halves, ushort* halfD, ushort* halfDmin, byte* meta)
    {
        var d = (float*)(meta + DOffset);
        var negativeMin = (float*)(meta + NegativeMinOffset);
        for (var r = 0; r < Rows; r++)
        {
            d[r] = halves[halfD[r]];
            negativeMin[r] = halfDmin == null ? 0f : -halves[halfDmin[r]];
        }
    }
}

/// <summary>An 8×8 transpose of qwords: vector r (<paramref name="v0"/>…<paramref name="v7"/>) to qword r of the
/// eight vectors returned in order.</summary>
internal static class QwordTranspose
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(Vector512<ulong> v0, Vector512<ulong> v1, Vector512<ulong> v2, Vector512<ulong> v3,
        Vector512<ulong> v4, Vector512<ulong> v5, Vector512<ulong> v6, Vector512<ulong> v7, byte* dst)
    {
        // Swap single qwords between rows r and r^1, pairs between r and r^2, quads between r and r^4.
        var even = Vector512.Create(0ul, 8, 2, 10, 4, 12, 6, 14);
        var odd = Vector512.Create(1ul, 9, 3, 11, 5, 13, 7, 15);
        var (t0, t1) = (Avx512F.PermuteVar8x64x2(v0, even, v1), Avx512F.PermuteVar8x64x2(v0, odd, v1));
        var (t2, t3) = (Avx512F.PermuteVar8x64x2(v2, even, v3), Avx512F.PermuteVar8x64x2(v2, odd, v3));
        var (t4, t5) = (Avx512F.PermuteVar8x64x2(v4, even, v5), Avx512F.PermuteVar8x64x2(v4, odd, v5));
        var (t6, t7) = (Avx512F.PermuteVar8x64x2(v6, even, v7), Avx512F.PermuteVar8x64x2(v6, odd, v7));
        var lowPairs = Vector512.Create(0ul, 1, 8, 9, 4, 5, 12, 13);
        var highPairs = Vector512.Create(2ul, 3, 10, 11, 6, 7, 14, 15);
        var (u0, u2) = (Avx512F.PermuteVar8x64x2(t0, lowPairs, t2), Avx512F.PermuteVar8x64x2(t0, highPairs, t2));
        var (u1, u3) = (Avx512F.PermuteVar8x64x2(t1, lowPairs, t3), Avx512F.PermuteVar8x64x2(t1, highPairs, t3));
        var (u4, u6) = (Avx512F.PermuteVar8x64x2(t4, lowPairs, t6), Avx512F.PermuteVar8x64x2(t4, highPairs, t6));
        var (u5, u7) = (Avx512F.PermuteVar8x64x2(t5, lowPairs, t7), Avx512F.PermuteVar8x64x2(t5, highPairs, t7));
        var lowQuads = Vector512.Create(0ul, 1, 2, 3, 8, 9, 10, 11);
        var highQuads = Vector512.Create(4ul, 5, 6, 7, 12, 13, 14, 15);
        Avx512F.PermuteVar8x64x2(u0, lowQuads, u4).Store((ulong*)dst);
        Avx512F.PermuteVar8x64x2(u1, lowQuads, u5).Store((ulong*)(dst + 64));
        Avx512F.PermuteVar8x64x2(u2, lowQuads, u6).Store((ulong*)(dst + 2 * 64));
        Avx512F.PermuteVar8x64x2(u3, lowQuads, u7).Store((ulong*)(dst + 3 * 64));
        Avx512F.PermuteVar8x64x2(u0, highQuads, u4).Store((ulong*)(dst + 4 * 64));
        Avx512F.PermuteVar8x64x2(u1, highQuads, u5).Store((ulong*)(dst + 5 * 64));
        Avx512F.PermuteVar8x64x2(u2, highQuads, u6).Store((ulong*)(dst + 6 * 64));
        Avx512F.PermuteVar8x64x2(u3, highQuads, u7).Store((ulong*)(dst + 7 * 64));
    }

    /// <summary>The low four bits of a block's 32 chunks (<see cref="Chunks{TFormat}"/>'s 2 KiB at
    /// <paramref name="chunks"/>) packed two chunks a byte into the 1 KiB at <paramref name="dst"/>: 128 bytes per
    /// 32-value group i, vector k's qword r holding row r's chunk 4i + 2k in its low nibbles and 4i + 2k + 1 in its
    /// high ones.</summary>
    public static unsafe void PackNibbles(byte* chunks, byte* dst)
    {
        var low4 = Vector512.Create((byte)0x0F);
        for (var i = 0; i < 8; i++)
            for (var k = 0; k < 2; k++)
            {
                var low = Vector512.Load(chunks + 256 * i + 128 * k);
                var high = Vector512.Load(chunks + 256 * i + 128 * k + 64);
                ((low & low4) | ((high & low4).AsUInt16() << 4).AsByte()).Store(dst + 128 * i + 64 * k);
            }
    }

    /// <summary>The eight rows' unsigned quants of one block (row r at block + r·rowBytes) as 32 chunks at
    /// <paramref name="dst"/> (2 KiB): chunk c's qword r = row r's quants 8c…8c+7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Chunks<TFormat>(byte* block, long rowBytes, byte* dst) where TFormat : ITileFormat
    {
        for (var q = 0; q < Q8K.BlockValues / 64; q++)
            Store(TFormat.Quarter(block, q).AsUInt64(), TFormat.Quarter(block + rowBytes, q).AsUInt64(),
                TFormat.Quarter(block + 2 * rowBytes, q).AsUInt64(), TFormat.Quarter(block + 3 * rowBytes, q).AsUInt64(),
                TFormat.Quarter(block + 4 * rowBytes, q).AsUInt64(), TFormat.Quarter(block + 5 * rowBytes, q).AsUInt64(),
                TFormat.Quarter(block + 6 * rowBytes, q).AsUInt64(), TFormat.Quarter(block + 7 * rowBytes, q).AsUInt64(),
                dst + 8 * 64 * q);
    }
}

/// <summary>Whole matrices to and from the interleaved form (<see cref="IInterleavedFormat"/>), in place: each group
/// of eight rows rewritten within its own bytes; the rows after the last whole group (fewer than eight) stay as
/// stored, and the kernels dot them one at a time.</summary>
public static unsafe class InterleavedMatrix
{
    /// <summary>True where matrices of <paramref name="t"/> can be held interleaved on this CPU: Q4_K, Q5_K or Q6_K,
    /// with AVX-512 VBMI (the scale permutes).</summary>
    public static bool Supports(DType t) => Avx512Vbmi.IsSupported && t is DType.Q4_K or DType.Q5_K or DType.Q6_K;

    public static void Interleave(DType t, Span<byte> matrix, int rows, int cols) => Rewrite(t, matrix, rows, cols, toInterleaved: true);

    public static void Deinterleave(DType t, Span<byte> matrix, int rows, int cols) => Rewrite(t, matrix, rows, cols, toInterleaved: false);

    private static void Rewrite(DType t, Span<byte> matrix, int rows, int cols, bool toInterleaved)
    {
        if (!Supports(t)) throw new ArgumentException($"{t.Name()} matrices cannot be held interleaved on this CPU", nameof(t));
        var rowBytes = (int)t.ByteCount(cols);
        Check.MatVec(t, matrix, rows, cols, cols, rows, 1);
        var blocks = cols / Q8K.BlockValues;
        var groupBytes = KQuantTiles.Rows * rowBytes;
        var copy = new byte[groupBytes];
        fixed (byte* pm = matrix)
        fixed (byte* pc = copy)
        {
            for (var g = 0; g < rows / KQuantTiles.Rows; g++)
            {
                var group = pm + (long)g * groupBytes;
                new ReadOnlySpan<byte>(group, groupBytes).CopyTo(copy);
                for (var b = 0; b < blocks; b++)
                {
                    var blockBytes = groupBytes / blocks;
                    if (toInterleaved) Interleave(t, pc + b * (rowBytes / blocks), rowBytes, group + b * blockBytes);
                    else Deinterleave(t, pc + b * blockBytes, group + b * (rowBytes / blocks), rowBytes);
                }
            }
        }
    }

    private static void Interleave(DType t, byte* block, long rowBytes, byte* dst)
    {
        switch (t)
        {
            case DType.Q4_K: Q4KDot.Interleave(block, rowBytes, dst); break;
            case DType.Q5_K: Q5KDot.Interleave(block, rowBytes, dst); break;
            default: Q6KDot.Interleave(block, rowBytes, dst); break;
        }
    }

    private static void Deinterleave(DType t, byte* src, byte* block, long rowBytes)
    {
        switch (t)
        {
            case DType.Q4_K: Q4KDot.Deinterleave(src, block, rowBytes); break;
            case DType.Q5_K: Q5KDot.Deinterleave(src, block, rowBytes); break;
            default: Q6KDot.Deinterleave(src, block, rowBytes); break;
        }
    }
}
