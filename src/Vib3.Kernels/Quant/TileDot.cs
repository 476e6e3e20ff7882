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

/// <summary>Where the tile kernel finds a block's chunks of unsigned quants (chunk j of group i: qword r = row r's
/// values 32i + 8j … 32i + 8j + 7): in a repacked tile, or in the interleaved form the weights are held in.</summary>
internal unsafe interface ITileChunks
{
    static abstract void Group(byte* t, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3);
}

/// <summary>Chunks unpacked one byte per quant by <see cref="TileDot{TFormat}.Repack"/>: chunk c at 64c.</summary>
internal readonly unsafe struct RepackedChunks : ITileChunks
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(byte* t, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3)
    {
        var g = t + 256 * i;
        (c0, c1, c2, c3) = (Vector512.Load(g), Vector512.Load(g + 64), Vector512.Load(g + 128), Vector512.Load(g + 192));
    }
}

/// <summary>Chunks unpacked from the interleaved form (<see cref="IInterleavedFormat.Group"/>).</summary>
internal readonly unsafe struct InterleavedChunks<TFormat> : ITileChunks where TFormat : IInterleavedFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(byte* t, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3) =>
        TFormat.Group(t, i, out c0, out c1, out c2, out c3);
}

/// <summary>
/// Eight weight rows of <typeparamref name="TFormat"/> against any number of q8_K inputs, llama.cpp's repacked-GEMM
/// idea on AVX-512BW with <see cref="KQuantRow"/>'s exact order. One 512-bit vector holds the same eight consecutive
/// quants of all eight rows (row r in qword r), with the rows' sub-block scales, the weights of their block sums, d
/// and −dmin beside it as vectors (<see cref="TileMeta"/>). Rows in their plain form are repacked so per call
/// (<see cref="Dot"/>, <see cref="Repack"/>); rows held interleaved (<see cref="IInterleavedFormat"/>) are read as
/// they are, with only their scales decoded per call (<see cref="DotInterleaved"/>). Then per input (four inputs per
/// pass over a group's chunks, <see cref="BlockFour{TChunks}"/>): broadcast eight activation bytes, vpmaddubsw, add
/// a sub-block's pair sums as int16 (exact, see <see cref="ITileFormat.MaxQuant"/>), vpmaddwd against the eight
/// rows' scales, vpaddd: the int32 lanes ARE the rows (two per row, folded once per block), so lane r holds row r's
/// exact isum (and msum), and one vector fma per block runs the eight rows' canonical float chains at once: outputs
/// equal the row kernel's bit for bit.
/// </summary>
internal static unsafe class TileDot<TFormat> where TFormat : IInterleavedFormat
{
    private const int Rows = KQuantTiles.Rows;

    /// <summary>Consecutive values of a row in one vector (a qword).</summary>
    private const int ChunkValues = 8;

    private const int GroupValues = 32;
    private const int Groups = Q8K.BlockValues / GroupValues;
    private const int VectorBytes = 64;

    /// <summary>A repacked block: its chunks (2 KiB), then its <see cref="TileMeta"/>.</summary>
    private const int ChunkBytes = Q8K.BlockValues * Rows;
    public const int BlockStride = ChunkBytes + TileMeta.Bytes;

    /// <summary>Inputs one pass over a block takes (<see cref="BlockFour{TChunks}"/>).</summary>
    private const int InputsPerPass = 4;

    /// <summary>Blocks prepared at once: 8 × 3.4 KiB stays in L1 beside the inputs' q8_K blocks, for any width.</summary>
    private const int GroupBlocks = 8;

    /// <summary>The eight rows' decoded scales (16 sub-blocks of int16 each), which <see cref="Repack"/> reads back
    /// in the same 16-byte pieces it writes (a wider load would miss store forwarding).</summary>
    private const int StagingBytes = Rows * TileMeta.MaxSubBlocks * sizeof(short);

    private static readonly float* Halves = RowDot.HalfTablePtr;

    /// <summary>A sub-block's values per row in chunks; its int16 pair sums are added before the scale.</summary>
    private static int ChunksPerSubBlock => TFormat.SubBlockValues / ChunkValues;

    /// <summary>A sub-block's pair sums, added as int16, cannot overflow: a chunk's pair sum is at most
    /// 2·127·<see cref="ITileFormat.MaxQuant"/> (q8_K quants are within ±127).</summary>
    public static bool PairSumsFit => ChunksPerSubBlock * 2 * 127 * TFormat.MaxQuant <= short.MaxValue;

    [ThreadStatic] private static byte[]? _scratch;

    /// <summary>This thread's scratch of at least <paramref name="bytes"/>, 64-byte aligned: on the pinned object
    /// heap, so its address holds without a fixed block.</summary>
    private static byte* Scratch(int bytes)
    {
        var array = _scratch is { } s && s.Length >= bytes + VectorBytes ? s : _scratch = GC.AllocateUninitializedArray<byte>(bytes + VectorBytes, pinned: true);
        var start = (nint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(array));
        return (byte*)((start + VectorBytes - 1) & ~(nint)(VectorBytes - 1));
    }

    /// <summary>y[k·yStride + r] = row r · input k for the eight rows at rows + r·rowBytes (plain form) and the n
    /// q8_K inputs at q8k + k·stride, each of <paramref name="blocks"/> blocks.</summary>
    public static void Dot(byte* rows, long rowBytes, byte* q8k, long stride, int n, int blocks, float* y, long yStride)
    {
        var tile = Scratch(GroupBlocks * BlockStride + StagingBytes);
        var staging = tile + GroupBlocks * BlockStride;
        for (var b0 = 0; b0 < blocks; b0 += GroupBlocks)
        {
            var count = Math.Min(GroupBlocks, blocks - b0);
            for (var b = 0; b < count; b++) Repack(rows + (long)(b0 + b) * TFormat.BlockBytes, rowBytes, tile + b * BlockStride, staging);
            if (b0 == 0) PrefetchNext(rows, Rows * rowBytes);
            Inputs<RepackedChunks>(tile, BlockStride, tile + ChunkBytes, BlockStride, q8k, stride, n, b0, count, y, yStride);
        }
    }

    /// <summary><see cref="Dot"/> for eight rows held interleaved (<see cref="IInterleavedFormat"/>): block b at
    /// group + b·8·BlockBytes.</summary>
    public static void DotInterleaved(byte* group, byte* q8k, long stride, int n, int blocks, float* y, long yStride)
    {
        var groupBlockBytes = Rows * TFormat.BlockBytes;
        var meta = Scratch(GroupBlocks * TileMeta.Bytes);
        for (var b0 = 0; b0 < blocks; b0 += GroupBlocks)
        {
            var count = Math.Min(GroupBlocks, blocks - b0);
            var first = group + (long)b0 * groupBlockBytes;
            for (var b = 0; b < count; b++) TFormat.Meta(first + b * groupBlockBytes, Halves, meta + b * TileMeta.Bytes);
            if (b0 + count == blocks) PrefetchNext(group, (long)blocks * groupBlockBytes);
            Inputs<InterleavedChunks<TFormat>>(first, groupBlockBytes, meta, TileMeta.Bytes, q8k, stride, n, b0, count, y, yStride);
        }
    }

    /// <summary>Every input over <paramref name="count"/> prepared blocks (block b's chunks at
    /// chunks + b·chunkStride, its meta at meta + b·metaStride), from block <paramref name="b0"/> of the row.
    /// The accumulators live in y between block groups: each lane's chain goes on where it stopped. Inputs go four at
    /// a time, so each chunk is loaded (and unpacked) once for four inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Inputs<TChunks>(byte* chunks, long chunkStride, byte* meta, long metaStride, byte* q8k, long stride, int n,
        int b0, int count, float* y, long yStride) where TChunks : ITileChunks
    {
        var k = 0;
        for (; k + InputsPerPass <= n; k += InputsPerPass)
        {
            var output = y + k * yStride;
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            if (b0 != 0)
                (a0, a1, a2, a3) = (Vector256.Load(output), Vector256.Load(output + yStride), Vector256.Load(output + 2 * yStride), Vector256.Load(output + 3 * yStride));
            var x = q8k + k * stride + (long)b0 * Q8K.BlockBytes;
            for (var b = 0; b < count; b++)
                BlockFour<TChunks>(chunks + b * chunkStride, meta + b * metaStride, x + (long)b * Q8K.BlockBytes, stride, ref a0, ref a1, ref a2, ref a3);
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
            for (var b = 0; b < count; b++) acc = Block<TChunks>(chunks + b * chunkStride, meta + b * metaStride, x + (long)b * Q8K.BlockBytes, acc);
            acc.Store(output);
        }
    }

    /// <summary>Asks for the <paramref name="bytes"/> after <paramref name="start"/> into L2 while this call's inputs
    /// run: a batch's next eight rows (<see cref="BlockBatch"/> walks rows in order), which would otherwise be waited
    /// on block by block. A prefetch is a hint that never faults, so past the matrix's end it does nothing.</summary>
    private static void PrefetchNext(byte* start, long bytes)
    {
        var next = start + bytes;
        for (long offset = 0; offset < bytes; offset += VectorBytes) Sse.Prefetch1(next + offset);
    }

    /// <summary>One block against one input's q8_K block: the eight rows' exact integers, then their chains.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block<TChunks>(byte* t, byte* meta, byte* x, Vector256<float> acc) where TChunks : ITileChunks
    {
        var xq = x + Q8K.QuantsOffset;
        Vector512<int> dot = default;
        for (var i = 0; i < Groups; i++)
        {
            TChunks.Group(t, i, out var c0, out var c1, out var c2, out var c3);
            dot += Group(c0, c1, c2, c3, xq + GroupValues * i, meta, i);
        }
        return Finish(meta, x, dot, acc);
    }

    /// <summary><see cref="Block{TChunks}"/> for the four inputs at x + j·stride: each group's chunks and scales are
    /// loaded once for the four (the one-input loop is bound by its loads, two per pair-sum step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BlockFour<TChunks>(byte* t, byte* meta, byte* x, long stride,
        ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3) where TChunks : ITileChunks
    {
        var x0 = x + Q8K.QuantsOffset;
        Vector512<int> d0 = default, d1 = default, d2 = default, d3 = default;
        for (var i = 0; i < Groups; i++)
        {
            TChunks.Group(t, i, out var c0, out var c1, out var c2, out var c3);
            var xi = x0 + GroupValues * i;
            d0 += Group(c0, c1, c2, c3, xi, meta, i);
            d1 += Group(c0, c1, c2, c3, xi + stride, meta, i);
            d2 += Group(c0, c1, c2, c3, xi + 2 * stride, meta, i);
            d3 += Group(c0, c1, c2, c3, xi + 3 * stride, meta, i);
        }
        a0 = Finish(meta, x, d0, a0);
        a1 = Finish(meta, x + stride, d1, a1);
        a2 = Finish(meta, x + 2 * stride, d2, a2);
        a3 = Finish(meta, x + 3 * stride, d3, a3);
    }

    /// <summary>Group i (values 32i…32i+31) of the eight rows against one input's quants at <paramref name="xq"/>:
    /// one 32-value sub-block, or two 16-value ones, each its chunks' pair sums (added as int16, exact by
    /// <see cref="PairSumsFit"/>) times the rows' scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Group(Vector512<byte> c0, Vector512<byte> c1, Vector512<byte> c2, Vector512<byte> c3, byte* xq, byte* meta, int i)
    {
        var p0 = Pairs(c0, xq) + Pairs(c1, xq + ChunkValues);
        var p1 = Pairs(c2, xq + 2 * ChunkValues) + Pairs(c3, xq + 3 * ChunkValues);
        if (ChunksPerSubBlock == 4) return Avx512BW.MultiplyAddAdjacent(p0 + p1, Vector512.Load((short*)(meta + VectorBytes * i)));
        return Avx512BW.MultiplyAddAdjacent(p0, Vector512.Load((short*)(meta + VectorBytes * 2 * i)))
            + Avx512BW.MultiplyAddAdjacent(p1, Vector512.Load((short*)(meta + VectorBytes * (2 * i + 1))));
    }

    /// <summary>vpmaddubsw of a chunk against eight activation bytes broadcast to every row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<short> Pairs(Vector512<byte> chunk, byte* xq) => Avx512BW.MultiplyAddAdjacent(chunk, Vector512.Create(*(long*)xq).AsSByte());

    /// <summary>The block's exact integers (<paramref name="dot"/>: two int32 lanes per row) into the eight rows'
    /// float chains <paramref name="acc"/>, with the block sums of the input at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Finish(byte* meta, byte* x, Vector512<int> dot, Vector256<float> acc)
    {
        // Row r's two int32 lanes (2r, 2r+1) added in the low dword of qword r (exact: the sum fits int32), then
        // vpmovqd keeps those low dwords: lane r = row r.
        var lanes = Avx512F.ConvertToVector256Int32((dot + (dot.AsInt64() >>> 32).AsInt32()).AsInt64());
        var xd = Vector256.Create(*(float*)x);
        var d = Vector256.Load((float*)(meta + TileMeta.DOffset));
        if (!TFormat.UsesSums) return Vector256.FusedMultiplyAdd(xd * d, Vector256.ConvertToSingle(lanes), acc);
        var sums = Sums(meta + TileMeta.SumWeightsOffset, (short*)(x + Q8K.SumsOffset));
        if (!TFormat.HasMins) return Vector256.FusedMultiplyAdd(xd * d, Vector256.ConvertToSingle(lanes - sums), acc);
        var negativeMin = xd * Vector256.Load((float*)(meta + TileMeta.NegativeMinOffset));
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

    /// <summary>The eight rows' block at <paramref name="block"/> (row r at block + r·rowBytes) into the tile layout
    /// at <paramref name="dst"/> (<see cref="BlockStride"/> bytes; <paramref name="staging"/>:
    /// <see cref="StagingBytes"/>): chunk c's qword r = row r's u[8c…8c+7], then the <see cref="TileMeta"/>.</summary>
    public static void Repack(byte* block, long rowBytes, byte* dst, byte* staging)
    {
        var halves = Halves;
        var meta = dst + ChunkBytes;
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            var decoded = TFormat.Decode(w, halves, out var d, out var dmin);
            ((float*)(meta + TileMeta.DOffset))[r] = d;
            ((float*)(meta + TileMeta.NegativeMinOffset))[r] = -dmin;
            decoded.Low.GetLower().Store((short*)(staging + 16 * r));
            if (TFormat.SubBlockValues == 16) decoded.High.GetLower().Store((short*)(staging + Rows * 16 + 16 * r));
            var weights = meta + TileMeta.SumWeightsOffset + VectorBytes * (r % 4) + 16 * (r / 4);
            decoded.SumWeights.GetLower().Store((short*)weights);
            decoded.SumWeights.GetUpper().Store((short*)(weights + 32));
        }
        QwordTranspose.Chunks<TFormat>(block, rowBytes, dst);
        // int16 4r + k of scale vector s = int16 8r + s of the eight rows' eight scales (rows 0–3, then 4–7).
        var rowStarts = Vector512.Create(0, 0, 0, 0, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 24,
            32, 32, 32, 32, 40, 40, 40, 40, 48, 48, 48, 48, 56, 56, 56, 56);
        for (var h = 0; h < Q8K.BlockValues / TFormat.SubBlockValues / 8; h++)
        {
            var table = staging + Rows * 16 * h;
            var low = Vector512.Create(Vector256.Create(Vector128.Load(table), Vector128.Load(table + 16)), Vector256.Create(Vector128.Load(table + 32), Vector128.Load(table + 48))).AsInt16();
            var high = Vector512.Create(Vector256.Create(Vector128.Load(table + 64), Vector128.Load(table + 80)), Vector256.Create(Vector128.Load(table + 96), Vector128.Load(table + 112))).AsInt16();
            for (var s = 0; s < 8; s++)
                Avx512BW.PermuteVar32x16x2(low, rowStarts + Vector512.Create((short)s), high).Store((short*)(meta + VectorBytes * (8 * h + s)));
        }
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
            DType.Q5_K => &TileDot<Q5KDot>.Dot,
            DType.Q6_K => &TileDot<Q6KDot>.Dot,
            _ => null,
        };

    /// <summary>The tile kernel of <paramref name="t"/> on eight rows held interleaved
    /// (<see cref="InterleavedMatrix"/>): (group, q8k, stride, n, blocks, y, yStride).</summary>
    public static delegate*<byte*, byte*, long, int, int, float*, long, void> Interleaved(DType t) => t switch
    {
        DType.Q4_K => &TileDot<Q4KDot>.DotInterleaved,
        DType.Q5_K => &TileDot<Q5KDot>.DotInterleaved,
        DType.Q6_K => &TileDot<Q6KDot>.DotInterleaved,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "no interleaved form"),
    };
}
