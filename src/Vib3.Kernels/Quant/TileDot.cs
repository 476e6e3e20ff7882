using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>A K-quant format the interleaved tile kernel (<see cref="TileDot{TFormat}"/>) runs: one whose kernel
/// multiplies unsigned quants u.</summary>
internal unsafe interface ITileFormat : IKQuantFormat
{
    /// <summary>The block's unsigned quants u of values 64q…64q+63 (what <see cref="IScalarQuants.Quant"/> gives),
    /// value 64q + i in byte i; <paramref name="q"/> (0–3) is a constant at the call.</summary>
    static abstract Vector512<byte> Quarter(byte* block, int q);

    /// <summary>The largest u: with |x| ≤ 127 a vpmaddubsw pair sum is at most 2·127·MaxQuant, and the tile kernel
    /// adds a sub-block's pair sums as int16, which <see cref="TileDot{TFormat}.PairSumsFit"/> checks stay exact.</summary>
    static abstract int MaxQuant { get; }
}

/// <summary>
/// Eight weight rows of <typeparamref name="TFormat"/> against any number of q8_K inputs, llama.cpp's repacked-GEMM
/// idea on AVX-512BW with <see cref="KQuantRow"/>'s exact order. Each weight block of the eight rows is repacked once
/// (<see cref="Repack"/>) so that one 512-bit vector holds the same eight consecutive quants of all eight rows (row r
/// in qword r), with the rows' sub-block scales, the weights of their block sums, d and −dmin beside it as vectors.
/// Then per input (four inputs per pass over a sub-block's chunks, <see cref="BlockFour"/>): broadcast eight
/// activation bytes, vpmaddubsw, add a sub-block's pair sums as int16 (exact, see
/// <see cref="ITileFormat.MaxQuant"/>), vpmaddwd against the eight rows' scales, vpaddd: the int32 lanes ARE the rows
/// (two per row, folded once per block), so lane r holds row r's exact isum (and msum), and one vector fma per block
/// runs the eight rows' canonical float chains at once: outputs equal the row kernel's bit for bit.
/// </summary>
internal static unsafe class TileDot<TFormat> where TFormat : ITileFormat
{
    private const int Rows = KQuantTiles.Rows;

    /// <summary>Consecutive values of a row in one vector (a qword).</summary>
    private const int ChunkValues = 8;

    private const int Chunks = Q8K.BlockValues / ChunkValues;
    private const int VectorBytes = 64;
    private const int QuarterValues = 64;
    private const int MaxSubBlocks = Q8K.BlockValues / 16;

    // One repacked block: the quants (chunk c at 64c), a scale vector per sub-block, the sum weights (four vectors:
    // vector k holds rows k and k + 4, see Sums), d and −dmin of the eight rows.
    private const int ScalesOffset = Chunks * VectorBytes;
    private const int SumWeightsOffset = ScalesOffset + MaxSubBlocks * VectorBytes;
    private const int DOffset = SumWeightsOffset + Rows / 2 * VectorBytes;
    private const int NegativeMinOffset = DOffset + Rows * sizeof(float);
    public const int BlockStride = NegativeMinOffset + Rows * sizeof(float);

    /// <summary>Inputs one pass over a block takes (<see cref="BlockFour"/>).</summary>
    private const int InputsPerPass = 4;

    /// <summary>Blocks repacked at once: 8 × 3.3 KiB stays in L1 beside the inputs' q8_K blocks, for any width.</summary>
    private const int GroupBlocks = 8;

    /// <summary>The eight rows' decoded scales (16 sub-blocks of int16 each), which <see cref="Repack"/> reads back
    /// in the same 16-byte pieces it writes (a wider load would miss store forwarding).</summary>
    private const int StagingBytes = Rows * MaxSubBlocks * sizeof(short);

    private static readonly float* Halves = RowDot.HalfTablePtr;

    /// <summary>The sub-block's values per row in chunks; its int16 pair sums are added before the scale.</summary>
    private static int ChunksPerSubBlock => TFormat.SubBlockValues / ChunkValues;

    /// <summary>A sub-block's pair sums, added as int16, cannot overflow: a chunk's pair sum is at most
    /// 2·127·<see cref="ITileFormat.MaxQuant"/> (q8_K quants are within ±127).</summary>
    public static bool PairSumsFit => ChunksPerSubBlock * 2 * 127 * TFormat.MaxQuant <= short.MaxValue;

    [ThreadStatic] private static byte[]? _scratch;

    /// <summary>y[k·yStride + r] = row r · input k for the eight rows at rows + r·rowBytes and the n q8_K inputs at
    /// q8k + k·stride, each of <paramref name="blocks"/> blocks.</summary>
    public static void Dot(byte* rows, long rowBytes, byte* q8k, long stride, int n, int blocks, float* y, long yStride)
    {
        var bytes = GroupBlocks * BlockStride + StagingBytes + VectorBytes;
        var scratch = _scratch is { } s && s.Length >= bytes ? s : _scratch = GC.AllocateUninitializedArray<byte>(bytes, pinned: true);
        fixed (byte* p = scratch)
        {
            var tile = (byte*)(((nint)p + VectorBytes - 1) & ~(nint)(VectorBytes - 1));
            var staging = tile + GroupBlocks * BlockStride;
            for (var b0 = 0; b0 < blocks; b0 += GroupBlocks)
            {
                var count = Math.Min(GroupBlocks, blocks - b0);
                for (var b = 0; b < count; b++) Repack(rows + (long)(b0 + b) * TFormat.BlockBytes, rowBytes, tile + b * BlockStride, staging);
                if (b0 == 0) PrefetchNextRows(rows, rowBytes);
                // The accumulators live in y between block groups: each lane's chain goes on where it stopped. Inputs
                // go four at a time, so each chunk of the tile is loaded once for four inputs.
                var k = 0;
                for (; k + InputsPerPass <= n; k += InputsPerPass)
                {
                    var output = y + k * yStride;
                    Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                    if (b0 != 0)
                        (a0, a1, a2, a3) = (Vector256.Load(output), Vector256.Load(output + yStride), Vector256.Load(output + 2 * yStride), Vector256.Load(output + 3 * yStride));
                    var x = q8k + k * stride + (long)b0 * Q8K.BlockBytes;
                    for (var b = 0; b < count; b++) BlockFour(tile + b * BlockStride, x + (long)b * Q8K.BlockBytes, stride, ref a0, ref a1, ref a2, ref a3);
                    a0.Store(output);
                    a1.Store(output + yStride);
                    a2.Store(output + 2 * yStride);
                    a3.Store(output + 3 * yStride);
                }
                for (; k < n; k++)
                {
                    var output = y + k * yStride;
                    var acc = b0 == 0 ? Vector256<float>.Zero : Vector256.Load(output);
                    var x = q8k + k * stride + (long)b0 * Q8K.BlockBytes;
                    for (var b = 0; b < count; b++) acc = Block(tile + b * BlockStride, x + (long)b * Q8K.BlockBytes, acc);
                    acc.Store(output);
                }
            }
        }
    }

    /// <summary>Asks for the eight rows after these into L2 while this call's inputs run: a batch's next tile
    /// (<see cref="BlockBatch"/> walks rows in order), whose repack would otherwise wait on memory row by row.
    /// A prefetch is a hint that never faults, so past the matrix's last row it does nothing.</summary>
    private static void PrefetchNextRows(byte* rows, long rowBytes)
    {
        var next = rows + Rows * rowBytes;
        for (long offset = 0; offset < Rows * rowBytes; offset += VectorBytes) Sse.Prefetch1(next + offset);
    }

    /// <summary>One repacked block against one input's q8_K block: the eight rows' exact integers, then their chains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block(byte* t, byte* x, Vector256<float> acc)
    {
        // Pointers that step, so every load has a constant displacement (the JIT does not unroll the loop).
        var xq = x + Q8K.QuantsOffset;
        var chunk = t;
        var scale = t + ScalesOffset;
        Vector512<int> dot = default;
        for (var end = t + ScalesOffset; chunk < end; chunk += 2 * ChunksPerSubBlock * VectorBytes, xq += 2 * TFormat.SubBlockValues, scale += 2 * VectorBytes)
        {
            dot += SubBlock(chunk, xq, scale);
            dot += SubBlock(chunk + ChunksPerSubBlock * VectorBytes, xq + TFormat.SubBlockValues, scale + VectorBytes);
        }
        return Finish(t, x, dot, acc);
    }

    /// <summary><see cref="Block"/> for the four inputs at x + j·stride: each sub-block's chunks and scales are loaded
    /// once for the four (the one-input loop is bound by its loads, two per pair-sum step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BlockFour(byte* t, byte* x, long stride, ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3)
    {
        var x0 = x + Q8K.QuantsOffset;
        var x1 = x0 + stride;
        var x2 = x1 + stride;
        var x3 = x2 + stride;
        var scale = t + ScalesOffset;
        Vector512<int> d0 = default, d1 = default, d2 = default, d3 = default;
        for (var chunk = t; chunk < t + ScalesOffset; chunk += ChunksPerSubBlock * VectorBytes, scale += VectorBytes)
        {
            var c0 = Vector512.Load(chunk);
            var c1 = Vector512.Load(chunk + VectorBytes);
            var c2 = ChunksPerSubBlock == 4 ? Vector512.Load(chunk + 2 * VectorBytes) : default;
            var c3 = ChunksPerSubBlock == 4 ? Vector512.Load(chunk + 3 * VectorBytes) : default;
            var s = Vector512.Load((short*)scale);
            d0 += SubBlock(c0, c1, c2, c3, x0, s);
            d1 += SubBlock(c0, c1, c2, c3, x1, s);
            d2 += SubBlock(c0, c1, c2, c3, x2, s);
            d3 += SubBlock(c0, c1, c2, c3, x3, s);
            x0 += TFormat.SubBlockValues;
            x1 += TFormat.SubBlockValues;
            x2 += TFormat.SubBlockValues;
            x3 += TFormat.SubBlockValues;
        }
        a0 = Finish(t, x, d0, a0);
        a1 = Finish(t, x + stride, d1, a1);
        a2 = Finish(t, x + 2 * stride, d2, a2);
        a3 = Finish(t, x + 3 * stride, d3, a3);
    }

    /// <summary>A sub-block of the eight rows whose chunks are in registers (c2, c3 unused where a sub-block has two).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> SubBlock(Vector512<byte> c0, Vector512<byte> c1, Vector512<byte> c2, Vector512<byte> c3, byte* xq, Vector512<short> scale)
    {
        var pairs = Avx512BW.MultiplyAddAdjacent(c0, Vector512.Create(*(long*)xq).AsSByte())
            + Avx512BW.MultiplyAddAdjacent(c1, Vector512.Create(*(long*)(xq + ChunkValues)).AsSByte());
        if (ChunksPerSubBlock == 4)
            pairs += Avx512BW.MultiplyAddAdjacent(c2, Vector512.Create(*(long*)(xq + 2 * ChunkValues)).AsSByte())
                + Avx512BW.MultiplyAddAdjacent(c3, Vector512.Create(*(long*)(xq + 3 * ChunkValues)).AsSByte());
        return Avx512BW.MultiplyAddAdjacent(pairs, scale);
    }

    /// <summary>The block's exact integers (<paramref name="dot"/>: two int32 lanes per row) into the eight rows'
    /// float chains <paramref name="acc"/>, with the block sums of the input at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(byte* t, byte* x, Vector512<int> dot, Vector256<float> acc)
    {
        // Row r's two int32 lanes (2r, 2r+1) added in the low dword of qword r (exact: the sum fits int32), then
        // vpmovqd keeps those low dwords: lane r = row r.
        var lanes = Avx512F.ConvertToVector256Int32((dot + (dot.AsInt64() >>> 32).AsInt32()).AsInt64());
        var xd = Vector256.Create(*(float*)x);
        var d = Vector256.Load((float*)(t + DOffset));
        if (!TFormat.UsesSums) return Vector256.FusedMultiplyAdd(xd * d, Vector256.ConvertToSingle(lanes), acc);
        var sums = Sums(t + SumWeightsOffset, (short*)(x + Q8K.SumsOffset));
        if (!TFormat.HasMins) return Vector256.FusedMultiplyAdd(xd * d, Vector256.ConvertToSingle(lanes - sums), acc);
        var negativeMin = xd * Vector256.Load((float*)(t + NegativeMinOffset));
        return TFormat.MinsFirst
            ? Vector256.FusedMultiplyAdd(xd * d, Vector256.ConvertToSingle(lanes), Vector256.FusedMultiplyAdd(negativeMin, Vector256.ConvertToSingle(sums), acc))
            : Vector256.FusedMultiplyAdd(negativeMin, Vector256.ConvertToSingle(sums), Vector256.FusedMultiplyAdd(xd * d, Vector256.ConvertToSingle(lanes), acc));
    }

    /// <summary>Lane r = Σ_j w_{r,j}·bsum_j, row r's weighted block sums. Weight vector k holds, per 128-bit lane,
    /// the weights of sums 0–7 of row k, of row k + 4, sums 8–15 of row k, of row k + 4; against the input's sums
    /// laid out to match, vpmaddwd leaves four partial dwords per (row, lane), which two unpack-and-add
    /// steps gather into dword k of each lane and the halves' sum into lane r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Sums(byte* weights, short* bsums)
    {
        // The sums as per 128-bit lane: 0–7, 0–7, 8–15, 8–15.
        var x = Avx512F.PermuteVar8x64(Vector256.Load((long*)bsums).ToVector512Unsafe(), Vector512.Create(0L, 1, 0, 1, 2, 3, 2, 3)).AsInt16();
        var m0 = Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)weights), x);
        var m1 = Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(weights + VectorBytes)), x);
        var m2 = Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(weights + 2 * VectorBytes)), x);
        var m3 = Avx512BW.MultiplyAddAdjacent(Vector512.Load((short*)(weights + 3 * VectorBytes)), x);
        var m01 = (Avx512F.UnpackLow(m0, m1) + Avx512F.UnpackHigh(m0, m1)).AsInt64();
        var m23 = (Avx512F.UnpackLow(m2, m3) + Avx512F.UnpackHigh(m2, m3)).AsInt64();
        // Added as int32: a 64-bit add would carry from one row's dword into the next.
        var all = Avx512F.UnpackLow(m01, m23).AsInt32() + Avx512F.UnpackHigh(m01, m23).AsInt32();
        return all.GetLower() + all.GetUpper();
    }

    /// <summary>A sub-block of the eight rows (its chunks at <paramref name="chunk"/>, its values of the input at
    /// <paramref name="xq"/>): the chunks' pair sums, added as int16 (exact by <see cref="PairSumsFit"/>), times the
    /// rows' scales at <paramref name="scale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> SubBlock(byte* chunk, byte* xq, byte* scale) =>
        SubBlock(Vector512.Load(chunk), Vector512.Load(chunk + VectorBytes),
            ChunksPerSubBlock == 4 ? Vector512.Load(chunk + 2 * VectorBytes) : default,
            ChunksPerSubBlock == 4 ? Vector512.Load(chunk + 3 * VectorBytes) : default,
            xq, Vector512.Load((short*)scale));

    /// <summary>The eight rows' block at <paramref name="block"/> (row r at block + r·rowBytes) into the tile layout
    /// at <paramref name="dst"/> (<see cref="BlockStride"/> bytes; <paramref name="staging"/>:
    /// <see cref="StagingBytes"/>): chunk c's qword r = row r's u[8c…8c+7]; scale vector s: int16 4r…4r+3 = row r's
    /// scale s; the sum weights as <see cref="Sums"/> reads them; d and −dmin.</summary>
    public static void Repack(byte* block, long rowBytes, byte* dst, byte* staging)
    {
        var halves = Halves;
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            var decoded = TFormat.Decode(w, halves, out var d, out var dmin);
            ((float*)(dst + DOffset))[r] = d;
            ((float*)(dst + NegativeMinOffset))[r] = -dmin;
            decoded.Low.GetLower().Store((short*)(staging + 16 * r));
            if (TFormat.SubBlockValues == 16) decoded.High.GetLower().Store((short*)(staging + Rows * 16 + 16 * r));
            var weights = dst + SumWeightsOffset + VectorBytes * (r % 4) + 16 * (r / 4);
            decoded.SumWeights.GetLower().Store((short*)weights);
            decoded.SumWeights.GetUpper().Store((short*)(weights + 32));
        }
        for (var q = 0; q < Q8K.BlockValues / QuarterValues; q++)
            Transpose(Quarter(block, rowBytes, q, 0), Quarter(block, rowBytes, q, 1), Quarter(block, rowBytes, q, 2), Quarter(block, rowBytes, q, 3),
                Quarter(block, rowBytes, q, 4), Quarter(block, rowBytes, q, 5), Quarter(block, rowBytes, q, 6), Quarter(block, rowBytes, q, 7),
                dst + VectorBytes * Rows * q);
        // int16 4r + k of scale vector s = int16 8r + s of the eight rows' eight scales (rows 0–3, then 4–7).
        var rowStarts = Vector512.Create(0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24,
            32, 32, 32, 32, 40, 40, 40, 40, 48, 48, 48, 48, 56, 56, 56, 56);
        for (var h = 0; h < Q8K.BlockValues / TFormat.SubBlockValues / 8; h++)
        {
            var table = staging + Rows * 16 * h;
            var low = Vector512.Create(Vector256.Create(Vector128.Load(table), Vector128.Load(table + 16)), Vector256.Create(Vector128.Load(table + 32), Vector128.Load(table + 48))).AsInt16();
            var high = Vector512.Create(Vector256.Create(Vector128.Load(table + 64), Vector128.Load(table + 80)), Vector256.Create(Vector128.Load(table + 96), Vector128.Load(table + 112))).AsInt16();
            for (var s = 0; s < 8; s++)
                Avx512BW.PermuteVar32x16x2(low, rowStarts + Vector512.Create((short)s), high).Store((short*)(dst + ScalesOffset + VectorBytes * (8 * h + s)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Quarter(byte* block, long rowBytes, int q, int r) => TFormat.Quarter(block + r * rowBytes, q).AsUInt64();

    /// <summary>An 8×8 transpose of qwords: row r (<paramref name="v0"/>…<paramref name="v7"/>) to qword r of the
    /// eight vectors at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(Vector512<ulong> v0, Vector512<ulong> v1, Vector512<ulong> v2, Vector512<ulong> v3,
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
        Avx512F.PermuteVar8x64x2(u1, lowQuads, u5).Store((ulong*)(dst + VectorBytes));
        Avx512F.PermuteVar8x64x2(u2, lowQuads, u6).Store((ulong*)(dst + 2 * VectorBytes));
        Avx512F.PermuteVar8x64x2(u3, lowQuads, u7).Store((ulong*)(dst + 3 * VectorBytes));
        Avx512F.PermuteVar8x64x2(u0, highQuads, u4).Store((ulong*)(dst + 4 * VectorBytes));
        Avx512F.PermuteVar8x64x2(u1, highQuads, u5).Store((ulong*)(dst + 5 * VectorBytes));
        Avx512F.PermuteVar8x64x2(u2, highQuads, u6).Store((ulong*)(dst + 6 * VectorBytes));
        Avx512F.PermuteVar8x64x2(u3, highQuads, u7).Store((ulong*)(dst + 7 * VectorBytes));
    }
}

/// <summary>The interleaved tile kernel (<see cref="TileDot{TFormat}"/>) of each block type that has one on this CPU.</summary>
internal static unsafe class KQuantTiles
{
    /// <summary>Inputs from which a batch runs the tile kernel: below it, repacking a tile costs more than the
    /// row kernel spends on the few inputs. Either way the bits are the same. Measured one thread on an
    /// expert-shaped Q4_K/Q6_K matrix (2816×1024): at 4 inputs the row kernel (one four-input pass) is ahead, at 5
    /// (where it needs a second pass for one input) the tile kernel is 1.2–1.5× ahead.</summary>
    public const int MinInputs = 5;

    /// <summary>Weight rows one call takes: one per qword of a 512-bit vector.</summary>
    public const int Rows = 8;

    /// <summary>The tile kernel of <paramref name="t"/>, or null (no AVX-512BW, or a format without one: the batch
    /// runs the row kernel).</summary>
    public static delegate*<byte*, long, byte*, long, int, int, float*, long, void> For(DType t) =>
        !Avx512BW.IsSupported ? null : t switch
        {
            DType.Q4_K => &TileDot<Q4KDot>.Dot,
            DType.Q6_K => &TileDot<Q6KDot>.Dot,
            _ => null,
        };
}
