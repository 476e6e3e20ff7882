using System.Buffers.Binary;
using System.Text;

namespace Vib3.Server.PgWire.Protocol;

/// <summary>Reads the fields of one message body in order, checking every length against what is left; a body
/// that ends early or leaves bytes over is a protocol violation (08P01), never an out-of-range read.</summary>
internal ref struct BodyReader(ReadOnlySpan<byte> body, string message)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private ReadOnlySpan<byte> _rest = body;

    public byte ReadByte()
    {
        Need(1);
        var b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    public short ReadInt16()
    {
        Need(2);
        var v = BinaryPrimitives.ReadInt16BigEndian(_rest);
        _rest = _rest[2..];
        return v;
    }

    public int ReadInt32()
    {
        Need(4);
        var v = BinaryPrimitives.ReadInt32BigEndian(_rest);
        _rest = _rest[4..];
        return v;
    }

    /// <summary>A count field (Int16) that must not be negative.</summary>
    public int ReadCount()
    {
        var n = ReadInt16();
        if (n < 0) throw Invalid($"negative count {n}");
        return n;
    }

    public byte[] ReadBytes(int count)
    {
        if (count < 0) throw Invalid($"negative length {count}");
        Need(count);
        var bytes = _rest[..count].ToArray();
        _rest = _rest[count..];
        return bytes;
    }

    public string ReadCString()
    {
        var end = _rest.IndexOf((byte)0);
        if (end < 0) throw Invalid("a string is not terminated");
        string text;
        try { text = StrictUtf8.GetString(_rest[..end]); }
        catch (DecoderFallbackException) { throw new PgProtocolException("invalid byte sequence for encoding \"UTF8\"", "22021"); }
        _rest = _rest[(end + 1)..];
        return text;
    }

    /// <summary>The body must be used up exactly.</summary>
    public readonly void End()
    {
        if (!_rest.IsEmpty) throw Invalid($"{_rest.Length} bytes left over");
    }

    private readonly void Need(int count)
    {
        if (_rest.Length < count) throw Invalid("the message is shorter than its fields");
    }

    private readonly PgProtocolException Invalid(string why) => new($"invalid {message} message: {why}");
}
