using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Vib3.Core.Quant;

namespace Vib3.Kernels.Quant;

/// <summary>Q5_K's interleaved form (<see cref="IInterleavedFormat"/>), eight rows' block in 1408 bytes: Q4_K's
/// (<see cref="Q4KDot"/>) with the fifth bits beside the nibbles:
/// <list type="bullet">
/// <item>0–1023: the quants' low four bits, as Q4_K's.</item>
/// <item>1024–1279: their fifth bits, 64 bytes per two 32-value groups (2k, 2k + 1): qword r holds, in bit j, row r's
/// bit of chunk 8k + j (chunks 4i…4i+3 are group i's).</item>
/// <item>1280–1407: the scales, d and dmin, as Q4_K's (<see cref="Q4KDot.InterleaveScales"/>).</item>
/// </list></summary>
internal readonly unsafe partial struct Q5KDot : IInterleavedFormat
{
    private const int FifthBitsOffset = 1024;
    private const int ScalesOffset = 1280;
    private const int Rows = KQuantTiles.Rows;

    public static void Interleave(byte* block, long rowBytes, byte* dst)
    {
        var chunks = stackalloc byte[Q8K.BlockValues * Rows];
        QwordTranspose.Chunks<Q5KDot>(block, rowBytes, chunks);
        QwordTranspose.PackNibbles(chunks, dst);
        var one = Vector512.Create((byte)1);
        for (var k = 0; k < 4; k++)
        {
            var bits = Vector512<byte>.Zero;
            for (var j = 0; j < 8; j++)
                bits |= ((((Vector512.Load(chunks + 64 * (8 * k + j)).AsUInt16() >>> 4).AsByte()) & one).AsUInt16() << j).AsByte();
            bits.Store(dst + FifthBitsOffset + 64 * k);
        }
        Q4KDot.InterleaveScales(block, rowBytes, dst + ScalesOffset);
    }

    public static int QuantAt(byte* src, int r, int p)
    {
        int i = p / 32, j = p % 32 / 8, at = 8 * r + p % 8;
        var low = (src[128 * i + 64 * (j / 2) + at] >> (4 * (j % 2))) & 0xF;
        return low | ((src[FifthBitsOffset + 64 * (i / 2) + at] >> (4 * (i % 2) + j)) & 1) << 4;
    }

    public static void Deinterleave(byte* src, byte* block, long rowBytes)
    {
        for (var r = 0; r < Rows; r++)
        {
            var w = block + r * rowBytes;
            new Span<byte>(w, BlockBytes).Clear();
            Q4KDot.DeinterleaveScales(src + ScalesOffset, r, w);
            for (var p = 0; p < Q8K.BlockValues; p++)
            {
                int s = p / 32, l = p % 32, u = QuantAt(src, r, p);
                w[QuantsOffset + 32 * (s / 2) + l] |= (byte)((u & 0xF) << (4 * (s % 2)));
                w[HighBitsOffset + l] |= (byte)((u >> 4) << s);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Meta(byte* src, float* halves, byte* meta) => Q4KDot.ScaleMeta(src + ScalesOffset, halves, meta);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Group(byte* src, int i, out Vector512<byte> c0, out Vector512<byte> c1, out Vector512<byte> c2, out Vector512<byte> c3)
    {
        var low4 = Vector512.Create((byte)0x0F);
        var sixteen = Vector512.Create((byte)0x10);
        var a = Vector512.Load(src + 128 * i);
        var b = Vector512.Load(src + 128 * i + 64);
        // Group i's fifth bits are bits 4(i mod 2)…4(i mod 2)+3: shifted down to 0…3, then bit j up to bit 4 (what the
        // 16-bit shifts bring in from the other byte lands outside bit 4).
        var bits = Vector512.Load(src + FifthBitsOffset + 64 * (i / 2)).AsUInt16() >>> (4 * (i & 1));
        c0 = (a & low4) | ((bits << 4).AsByte() & sixteen);
        c1 = ((a.AsUInt16() >>> 4).AsByte() & low4) | ((bits << 3).AsByte() & sixteen);
        c2 = (b & low4) | ((bits << 2).AsByte() & sixteen);
        c3 = ((b.AsUInt16() >>> 4).AsByte() & low4) | ((bits << 1).AsByte() & sixteen);
    }
}
