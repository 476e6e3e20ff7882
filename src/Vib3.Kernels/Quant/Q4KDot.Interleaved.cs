using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>Q4_K's interleaved form (<see cref="IInterleavedFormat"/>), eight rows' block in 1152 bytes:
/// <list type="bullet">
/// <item>0–1023: the quants, 128 bytes per 32-value group i: two vectors whose qword r holds row r's chunks
/// 4i + 2k (low nibbles) and 4i + 2k + 1 (high nibbles), k = 0, 1.</item>
/// <item>1024–1151, the scales (<see cref="InterleaveScales"/>, Q5_K's too): 64 bytes, byte 8s + r = the low four
/// bits of row r's scale s | those of its min s &lt;&lt; 4; 32 bytes of top two bits, byte j holding those of index
/// j = 8s + r (scale in bits 0–1, min in 2–3) and of index j + 32 (bits 4–7); the eight rows' d (f16), then their
/// dmin.</item>
/// </list></summary>
internal readonly unsafe partial struct Q4KDot : IInterleavedFormat
{
    private const int LowBitsOffset = 1024;
    private const int Rows = KQuantTiles.Rows;

    private static readonly Vector512<byte>[] ScaleIndex = [.. Enumerable.Range(0, 8).Select(TileMeta.ScaleIndex)];

    /// <summary>Block sum j is weighed by the min of sub-block j / 2.</summary>
    private static readonly Vector512<byte>[] SumIndex = [.. Enumerable.Range(0, 4).Select(k => TileMeta.SumIndex(k, j => j / 2))];

    public static void Interleave(byte* block, long rowBytes, byte* dst)
    {
        var chunks = stackalloc byte[Q8K.BlockValues * Rows];
        QwordTranspose.Chunks<Q4KDot>(block, rowBytes, chunks);
        QwordTranspose.PackNibbles(chunks, dst);
        InterleaveScales(block, rowBytes, dst + LowBitsOffset);
    }

    /// <summary>The eight rows' d, dmin and 6-bit scale table (a Q4_K or Q5_K block's first 16 bytes) into the
    /// 128 bytes at <paramref name="dst"/>: 64 bytes of low bits, 32 of top bits, d, dmin (see the type summary).</summary>
    internal static void InterleaveScales(byte* block, long rowBytes, byte* dst)
    {
        new Span<byte>(dst + 64, 32).Clear();
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            var table = new ReadOnlySpan<byte>(w + 4, PackedScales6.Bytes);
            for (var s = 0; s < 8; s++)
            {
                var (scale, min) = PackedScales6.Get(table, s);
                var index = 8 * s + r;
                dst[index] = (byte)((scale & 0xF) | (min & 0xF) << 4);
                dst[64 + index % 32] |= (byte)(((scale >> 4) | (min >> 4) << 2) << (4 * (index / 32)));
            }
            ((ushort*)(dst + 96))[r] = *(ushort*)w;
            ((ushort*)(dst + 112))[r] = *(ushort*)(w + 2);
        }
    }

    /// <summary>The inverse of <see cref="InterleaveScales"/> for row r: its d, dmin and 6-bit table, into a
    /// cleared block.</summary>
    internal static void DeinterleaveScales(byte* src, int r, byte* w)
    {
        *(ushort*)w = ((ushort*)(src + 96))[r];
        *(ushort*)(w + 2) = ((ushort*)(src + 112))[r];
        var table = new Span<byte>(w + 4, PackedScales6.Bytes);
        for (var s = 0; s < 8; s++)
        {
            var index = 8 * s + r;
            int low = src[index], top = src[64 + index % 32] >> (4 * (index / 32));
            PackedScales6.Set(table, s, (byte)((low & 0xF) | (top & 3) << 4), (byte)((low >> 4) | ((top >> 2) & 3) << 4));
        }
    }

    public static int QuantAt(byte* src, int r, int p)
    {
        int i = p / 32, j = p % 32 / 8;
        return (src[128 * i + 64 * (j / 2) + 8 * r + p % 8] >> (4 * (j % 2))) & 0xF;
    }

    public static void Deinterleave(byte* src, byte* block, long rowBytes)
    {
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            new Span<byte>(w, BlockBytes).Clear();
            DeinterleaveScales(src + LowBitsOffset, r, w);
            for (var p = 0; p < Q8K.BlockValues; p++)
                w[QuantsOffset + 32 * (p / 64) + p % 32] |= (byte)(QuantAt(src, r, p) << (4 * (p / 32 % 2)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Meta(byte* src, float* halves, byte* meta) => ScaleMeta(src + LowBitsOffset, halves, meta);

    /// <summary>The <see cref="TileMeta"/> of the 128 bytes <see cref="InterleaveScales"/> wrote.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleMeta(byte* table, float* halves, byte* meta)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var three = Vector512.Create((byte)3);
        var low = Vector512.Load(table);
        var top = Vector256.Load(table + 64);
        // Indices 0–31 read bits 0–3 of the top bytes, indices 32–63 bits 4–7 (shifted down; what a 16-bit shift
        // brings in from the next byte lands above bit 3 and is masked off).
        var tops = Vector512.Create(top, (top.AsUInt16() >>> 4).AsByte());
        var scales = (low & low4) | ((tops & three).AsUInt16() << 4).AsByte();
        var mins = ((low.AsUInt16() >>> 4).AsByte() & low4) | (((tops.AsUInt16() >>> 2).AsByte() & three).AsUInt16() << 4).AsByte();
        for (var s = 0; s < 8; s++)
            TileMeta.Unsigned(Avx512Vbmi.PermuteVar64x8(scales, ScaleIndex[s])).Store((short*)(meta + TileMeta.VectorBytes * s));
        for (var k = 0; k < 4; k++)
            TileMeta.Unsigned(Avx512Vbmi.PermuteVar64x8(mins, SumIndex[k])).Store((short*)(meta + TileMeta.SumWeightsOffset + TileMeta.VectorBytes * k));
        TileMeta.Scales(halves, (ushort*)(table + 96), (ushort*)(table + 112), meta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(byte* src, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var a = Vector512.Load(src + 128 * i);
        var b = Vector512.Load(src + 128 * i + 64);
        c0 = a & low4;
        c1 = (a.AsUInt16() >>> 4).AsByte() & low4;
        c2 = b & low4;
        c3 = (b.AsUInt16() >>> 4).AsByte() & low4;
    }
}
