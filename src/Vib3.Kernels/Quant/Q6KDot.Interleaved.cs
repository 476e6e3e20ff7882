using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>Q6_K's interleaved form (<see cref="IInterleavedFormat"/>), eight rows' block in 1680 bytes:
/// <list type="bullet">
/// <item>0–1023: the quants' low four bits, 128 bytes per 32-value group i: two vectors whose qword r holds row r's
/// chunks 4i + 2k (low nibbles) and 4i + 2k + 1 (high nibbles), k = 0, 1.</item>
/// <item>1024–1535: their top two bits, 64 bytes per group i: qword r holds chunk 4i + j's in bits 2j…2j+1.</item>
/// <item>1536–1663: byte 8s + r = row r's scale s (int8), s = 0…15.</item>
/// <item>1664–1679: the eight rows' d (f16).</item>
/// </list></summary>
internal readonly unsafe partial struct Q6KDot : IInterleavedFormat
{
    private const int TopBitsOffset = 1024;
    private const int InterleavedScalesOffset = 1536;
    private const int DOffset = 1664;
    private const int Rows = KQuantTiles.Rows;

    private static readonly Vector512<byte>[] ScaleIndex = [.. Enumerable.Range(0, 16).Select(TileMeta.ScaleIndex)];

    /// <summary>Block sum j is weighed by 32 × the scale of sub-block j (the offset of the unsigned quants).</summary>
    private static readonly Vector512<byte>[] SumIndex = [.. Enumerable.Range(0, 4).Select(k => TileMeta.SumIndex(k, j => j))];

    public static void Interleave(byte* block, long rowBytes, byte* dst)
    {
        var chunks = stackalloc byte[Q8K.BlockValues * Rows];
        QwordTranspose.Chunks<Q6KDot>(block, rowBytes, chunks);
        QwordTranspose.PackNibbles(chunks, dst);
        var three = Vector512.Create((byte)3);
        for (var i = 0; i < 8; i++)
        {
            // Chunk j of group i: its top bits to bits 2j…2j+1 (values below 4 shifted by at most 6 stay in their byte).
            var top = Vector512<byte>.Zero;
            for (var j = 0; j < 4; j++)
                top |= (((Vector512.Load(chunks + 256 * i + 64 * j).AsUInt16() >>> 4).AsByte() & three).AsUInt16() << (2 * j)).AsByte();
            top.Store(dst + TopBitsOffset + 64 * i);
        }
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            for (var s = 0; s < 16; s++) dst[InterleavedScalesOffset + 8 * s + r] = w[ScalesOffset + s];
            ((ushort*)(dst + DOffset))[r] = *(ushort*)(w + ScaleOffset);
        }
    }

    public static int QuantAt(byte* src, int r, int p)
    {
        int i = p / 32, j = p % 32 / 8, at = 8 * r + p % 8;
        var low = (src[128 * i + 64 * (j / 2) + at] >> (4 * (j % 2))) & 0xF;
        return low | ((src[TopBitsOffset + 64 * i + at] >> (2 * j)) & 3) << 4;
    }

    public static void Deinterleave(byte* src, byte* block, long rowBytes)
    {
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            new Span<byte>(w, BlockBytes).Clear();
            for (var p = 0; p < Q8K.BlockValues; p++)
            {
                int h = p / 128, part = p % 128 / 32, l = p % 32, u = QuantAt(src, r, p);
                w[64 * h + l + 32 * (part % 2)] |= (byte)((u & 0xF) << (4 * (part / 2)));
                w[128 + 32 * h + l] |= (byte)((u >> 4) << (2 * part));
            }
            for (var s = 0; s < 16; s++) w[ScalesOffset + s] = src[InterleavedScalesOffset + 8 * s + r];
            *(ushort*)(w + ScaleOffset) = ((ushort*)(src + DOffset))[r];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Meta(byte* src, float* halves, byte* meta)
    {
        var lower = Vector512.Load(src + InterleavedScalesOffset);
        var upper = Vector512.Load(src + InterleavedScalesOffset + 64);
        for (var s = 0; s < 16; s++)
            TileMeta.Signed(Avx512Vbmi.PermuteVar64x8x2(lower, ScaleIndex[s], upper)).Store((short*)(meta + TileMeta.VectorBytes * s));
        for (var k = 0; k < 4; k++)
            (TileMeta.Signed(Avx512Vbmi.PermuteVar64x8x2(lower, SumIndex[k], upper)) << 5).Store((short*)(meta + TileMeta.SumWeightsOffset + TileMeta.VectorBytes * k));
        TileMeta.Scales(halves, (ushort*)(src + DOffset), null, meta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(byte* src, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var top2 = Vector512.Create((byte)0x30);
        var a = Vector512.Load(src + 128 * i);
        var b = Vector512.Load(src + 128 * i + 64);
        var top = Vector512.Load(src + TopBitsOffset + 64 * i).AsUInt16();
        // Chunk j's top bits (2j…2j+1) moved to bits 4–5; bits a 16-bit shift brings in from the other byte fall
        // outside 4–5 and are masked off.
        c0 = (a & low4) | ((top << 4).AsByte() & top2);
        c1 = ((a.AsUInt16() >>> 4).AsByte() & low4) | ((top << 2).AsByte() & top2);
        c2 = (b & low4) | (top.AsByte() & top2);
        c3 = ((b.AsUInt16() >>> 4).AsByte() & low4) | ((top >>> 2).AsByte() & top2);
    }
}
