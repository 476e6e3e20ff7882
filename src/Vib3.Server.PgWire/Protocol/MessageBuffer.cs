using System.Buffers.Binary;
using System.Text;

namespace Vib3.Server.PgWire.Protocol;

/// <summary>Where backend messages are serialized before a flush. Integers are big-endian (network order), strings
/// are UTF-8 "cstrings" ending in one zero byte. <see cref="Begin"/> writes the type byte and reserves the Int32
/// length, <see cref="End"/> fills it in: the length counts itself and the body, never the type byte.</summary>
internal sealed class MessageBuffer
{
    private byte[] _data = new byte[8192];
    private int _messageStart = -1;

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Written => _data.AsMemory(0, Length);

    public void Clear() => Length = 0;

    /// <summary>Starts a message: one type byte, then four bytes kept for the length.</summary>
    public void Begin(byte type)
    {
        if (_messageStart >= 0) throw new InvalidOperationException("a message is already being written");
        WriteByte(type);
        _messageStart = Length;
        WriteInt32(0);
    }

    /// <summary>Ends the message: the length is everything from the length field itself to here.</summary>
    public void End()
    {
        if (_messageStart < 0) throw new InvalidOperationException("no message is being written");
        BinaryPrimitives.WriteInt32BigEndian(_data.AsSpan(_messageStart), Length - _messageStart);
        _messageStart = -1;
    }

    public void WriteByte(byte value)
    {
        Ensure(1);
        _data[Length++] = value;
    }

    public void WriteInt16(short value)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_data.AsSpan(Length), value);
        Length += 2;
    }

    public void WriteInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_data.AsSpan(Length), value);
        Length += 4;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_data.AsSpan(Length));
        Length += bytes.Length;
    }

    /// <summary>UTF-8 text with no terminator (the caller has written its length).</summary>
    public void WriteUtf8(string text)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(text.Length));
        Length += Encoding.UTF8.GetBytes(text, _data.AsSpan(Length));
    }

    /// <summary>UTF-8 text then a zero byte. A zero char inside would end the string early, so it is dropped.</summary>
    public void WriteCString(string text)
    {
        WriteUtf8(text.Contains('\0') ? text.Replace("\0", "") : text);
        WriteByte(0);
    }

    private void Ensure(int extra)
    {
        if (Length + extra <= _data.Length) return;
        Array.Resize(ref _data, Math.Max(_data.Length * 2, Length + extra));
    }
}
