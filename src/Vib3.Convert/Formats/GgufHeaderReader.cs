using System.Buffers.Binary;
using System.Text;
using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>Sequential, bounds-checked reader for the GGUF header: every read that would pass the end of
/// the file fails with one line naming the file, the offset and what was being read.</summary>
internal sealed class GgufHeaderReader : IDisposable
{
    private readonly Stream _stream;
    private readonly byte[] _scratch = new byte[8];

    public GgufHeaderReader(string file)
    {
        File = file;
        _stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        Length = _stream.Length;
    }

    public string File { get; }
    public long Length { get; }
    public long Position { get; private set; }
    public long Remaining => Length - Position;

    public void Dispose() => _stream.Dispose();

    public Vib3Exception Bad(string message) => new(SqlState.InvalidParameterValue, $"{File}: {message}");

    private void Fill(Span<byte> dst, string what)
    {
        if (dst.Length > Remaining)
            throw Bad($"truncated: needs {dst.Length} bytes at offset {Position} for {what}, but the file is {Length} bytes");
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
            throw Bad($"{what} at offset {at} claims {n} bytes, more than the rest of the file ({Remaining} bytes)");
        if (n > int.MaxValue)
            throw Bad($"{what} at offset {at} claims {n} bytes, too long for a string");
        if (n == 0) return "";
        var b = new byte[n];
        Fill(b, what);
        return Encoding.UTF8.GetString(b);
    }
}
