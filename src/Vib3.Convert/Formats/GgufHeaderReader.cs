using System.Buffers.Binary;
using System.Text;
using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Convert.Formats;

/// <summary>Sequential, bounds-checked reader for the GGUF header: every read that would pass the end of the file,
/// or the header limit, fails with one line naming the file, the offset and what was being read.</summary>
internal sealed class GgufHeaderReader : IDisposable
{
    private readonly Stream _stream;
    private readonly byte[] _scratch = new byte[8];

    /// <param name="maxHeaderBytes">Where the header (metadata and tensor infos) must end. <see cref="Remaining"/>
    /// counts to it, not to the end of the file: a sparse file of terabytes holds no more header than this.</param>
    public GgufHeaderReader(string file, long maxHeaderBytes)
    {
        File = file;
        _stream = new FileStream(UntrustedFile.OpenRegular(file), FileAccess.Read, 1 << 16);
        Length = _stream.Length;
        HeaderLimit = Math.Min(Length, maxHeaderBytes);
    }

    public string File { get; }
    public long Length { get; }
    public long HeaderLimit { get; }
    public long Position { get; private set; }

    /// <summary>Bytes the header may still take: to the end of the file or the header limit, whichever is first.</summary>
    public long Remaining => HeaderLimit - Position;

    public void Dispose() => _stream.Dispose();

    public Vib3Exception Bad(string message) => new(SqlState.InvalidParameterValue, $"{File}: {message}");

    private void Fill(Span<byte> dst, string what)
    {
        if (dst.Length > Length - Position)
            throw Bad($"truncated: needs {dst.Length} bytes at offset {Position} for {what}, but the file is {Length} bytes");
        if (dst.Length > Remaining)
            throw Bad($"the header runs past {HeaderLimit} bytes (at offset {Position}, reading {what}); vib3 reads GGUF headers of at most that size");
        _stream.ReadExactly(dst);
        Position += dst.Length;
    }

    public byte[] ReadBytes(int n, string what)
    {
        var b = new byte[n];
        Fill(b, what);
        return b;
    }

    public byte U8(string what) { Fill(_scratch.AsSpan(0, 1), what); return _scratch[0]; }
    public ushort U16(string what) { Fill(_scratch.AsSpan(0, 2), what); return BinaryPrimitives.ReadUInt16LittleEndian(_scratch); }
    public uint U32(string what) { Fill(_scratch.AsSpan(0, 4), what); return BinaryPrimitives.ReadUInt32LittleEndian(_scratch); }
    public ulong U64(string what) { Fill(_scratch.AsSpan(0, 8), what); return BinaryPrimitives.ReadUInt64LittleEndian(_scratch); }
    public float F32(string what) => BitConverter.UInt32BitsToSingle(U32(what));
    public double F64(string what) => BitConverter.UInt64BitsToDouble(U64(what));

    public string String(string what)
    {
        var at = Position;
        var n = U64($"the length of {what}");
        if (n > (ulong)Remaining)
            throw Bad($"{what} at offset {at} claims {n} bytes, more than the rest of the file or header ({Remaining} bytes)");
        if (n == 0) return "";
        var b = new byte[(int)n]; // n ≤ Remaining ≤ the header limit, far below int.MaxValue
        Fill(b, what);
        return Encoding.UTF8.GetString(b);
    }
}
