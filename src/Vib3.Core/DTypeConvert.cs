using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Vib3.Core;

/// <summary>Scalar conversions between stored element types and f32. These are the reference the
/// conversion path and the tests use; hot kernels live in Vib3.Kernels.</summary>
public static class DTypeConvert
{
    /// <summary>bf16 is the top half of an f32; rounds to nearest even, keeps NaN a NaN.</summary>
    public static ushort FloatToBF16(float f)
    {
        var bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        var roundingBias = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float BF16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>Decodes <paramref name="dst"/>.Length values of type <paramref name="src"/> from little-endian bytes.</summary>
    public static void ToF32(DType src, ReadOnlySpan<byte> bytes, Span<float> dst)
    {
        var need = src.ByteCount(dst.Length);
        if (bytes.Length < need)
            throw new ArgumentException($"need {need} bytes of {src.Name()} for {dst.Length} values, got {bytes.Length}");
        switch (src)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(bytes[..(int)need]).CopyTo(dst);
                break;
            case DType.F16:
                for (var i = 0; i < dst.Length; i++)
                    dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                break;
            case DType.BF16:
                for (var i = 0; i < dst.Length; i++)
                    dst[i] = BF16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                break;
            case DType.Q8_0:
                for (var b = 0; b < dst.Length / DTypes.Q8BlockSize; b++)
                {
                    var block = bytes.Slice(b * DTypes.Q8BlockBytes, DTypes.Q8BlockBytes);
                    var d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block));
                    for (var j = 0; j < DTypes.Q8BlockSize; j++)
                        dst[b * DTypes.Q8BlockSize + j] = d * (sbyte)block[2 + j];
                }
                break;
            case DType.Q4_0:
            case DType.Q4_1:
            case DType.Q5_0:
            case DType.Q5_1:
                var blockBytes = src.Layout().BlockBytes;
                for (var b = 0; b < dst.Length / DTypes.LegacyBlockSize; b++)
                    LegacyBlocks.Dequantize(src, bytes.Slice(b * blockBytes, blockBytes), dst.Slice(b * DTypes.LegacyBlockSize, DTypes.LegacyBlockSize));
                break;
            case var _ when src.Layout().Codec is { } codec:
                codec.Dequantize(bytes[..(int)need], dst);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(src), src, null);
        }
    }

    /// <summary>Encodes f32 values as <paramref name="dstType"/>; the block types get the bytes llama.cpp's reference
    /// quantizer (no importance matrix) writes.</summary>
    public static void FromF32(DType dstType, ReadOnlySpan<float> src, Span<byte> bytes)
    {
        if (!dstType.IsWritable())
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"vib3 cannot write {dstType.Name()} (it writes {DTypes.WritableNames}; {dstType.Name()} is read as it is)");
        var need = dstType.ByteCount(src.Length);
        if (bytes.Length < need)
            throw new ArgumentException($"need {need} bytes for {src.Length} {dstType.Name()} values, got {bytes.Length}");
        switch (dstType)
        {
            case DType.F32:
                MemoryMarshal.Cast<float, byte>(src).CopyTo(bytes);
                break;
            case DType.F16:
                for (var i = 0; i < src.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes[(2 * i)..], BitConverter.HalfToUInt16Bits((Half)src[i]));
                break;
            case DType.BF16:
                for (var i = 0; i < src.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes[(2 * i)..], FloatToBF16(src[i]));
                break;
            case var _ when dstType.Layout().Quantizer is { } quantizer:
                quantizer.Quantize(src, bytes[..(int)need]);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dstType), dstType, null);
        }
    }

    /// <summary>Re-encodes values from one type to another; a plain copy when the types agree (bit-exact).</summary>
    public static void Convert(DType from, ReadOnlySpan<byte> src, DType to, Span<byte> dst, int count)
    {
        if (from == to)
        {
            var n = (int)from.ByteCount(count);
            src[..n].CopyTo(dst);
            return;
        }
        // Through f32 in chunks (a multiple of every block length) from a pooled buffer, so converting a whole page
        // allocates nothing; a chunk is large enough for a quantiser to spread it over cores.
        const int chunk = 64 * 1024;
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(Math.Min(chunk, count));
        try
        {
            for (var done = 0; done < count; done += chunk)
            {
                var part = buffer.AsSpan(0, Math.Min(chunk, count - done));
                ToF32(from, src[(int)from.ByteCount(done)..], part);
                FromF32(to, part, dst[(int)to.ByteCount(done)..]);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }
}
