using System.Buffers.Binary;
using System.Text;
using Vib3.Server.PgWire.Protocol.Frontend;

namespace Vib3.Server.PgWire.Protocol;

/// <summary>Reads frontend messages off the socket, checking every length before allocating for it.
/// A length field always counts itself (4 bytes) plus the body, never the type byte.
/// A clean end of stream between messages reads as null; one in the middle of a message (truncated input) throws
/// <see cref="EndOfStreamException"/>, so a half-sent message never leaves the server waiting for more.</summary>
internal sealed class PgMessageReader(Stream stream, int maxBodyBytes = PgServerOptions.DefaultMaxMessageBytes)
{
    /// <summary>Largest startup packet accepted: PostgreSQL's own limit (MAX_STARTUP_PACKET_LENGTH).</summary>
    public const int MaxStartupLength = 10_000;

    /// <summary>Largest message accepted before login (a SASL response): SCRAM's messages are a few hundred bytes,
    /// so a client that has not logged in can never make the server allocate more than this.</summary>
    public const int MaxAuthenticationLength = 2048;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte[] _header = new byte[5];

    /// <summary>The first packet of a connection (and the one after an SSL/GSSENC refusal): SSLRequest,
    /// GSSENCRequest, CancelRequest or StartupMessage. Null when the client closed before sending a byte.</summary>
    public async Task<IFrontendMessage?> ReadStartupAsync(CancellationToken ct)
    {
        if (!await FillAsync(_header.AsMemory(0, 4), ct).ConfigureAwait(false)) return null;
        var length = BinaryPrimitives.ReadInt32BigEndian(_header);
        // length counts itself (4) and the 4-byte code, so 8 is the least a valid packet can say.
        if (length < 8 || length > MaxStartupLength)
            throw new PgProtocolException($"invalid length of startup packet: {length}");
        var body = new byte[length - 4];
        await ReadExactAsync(body, ct).ConfigureAwait(false);
        var code = BinaryPrimitives.ReadInt32BigEndian(body);
        switch (code)
        {
            case SslRequest.Code:
                RequireLength(length, 8, "SSLRequest");
                return SslRequest.Instance;
            case GssEncRequest.Code:
                RequireLength(length, 8, "GSSENCRequest");
                return GssEncRequest.Instance;
            case CancelRequest.Code:
                RequireLength(length, 16, "CancelRequest");
                return new CancelRequest(BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(4)), BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(8)));
        }
        var major = (int)((uint)code >> 16);
        var minor = code & 0xFFFF;
        return new StartupMessage(major, minor, major == 3 ? ParsePairs(body.AsSpan(4)) : new Dictionary<string, string>());
    }

    /// <summary>The next regular message (type byte, length, body). Null when the client closed between messages.
    /// One longer than the reader's limit is refused from its length field, before anything is allocated for it:
    /// FATAL 54000 (its body cannot be skipped without reading it, so the connection ends, as PostgreSQL's does).</summary>
    public async Task<IFrontendMessage?> ReadMessageAsync(CancellationToken ct)
    {
        if (await ReadHeaderAsync(ct).ConfigureAwait(false) is not { } header) return null;
        var (type, length) = header;
        if (length - 4 > maxBodyBytes)
            throw new PgProtocolException($"{MessageName(type)} is {length - 4} bytes, over the limit of {maxBodyBytes} bytes",
                Vib3.Core.SqlState.ProgramLimitExceeded);
        return await ReadBodyAsync(type, length, ct).ConfigureAwait(false);
    }

    /// <summary>The next message before login: anything over <see cref="MaxAuthenticationLength"/> is refused from its
    /// length field alone (FATAL 08P01), before a byte of it is allocated. Null when the client closed.</summary>
    public async Task<IFrontendMessage?> ReadAuthenticationMessageAsync(CancellationToken ct)
    {
        if (await ReadHeaderAsync(ct).ConfigureAwait(false) is not { } header) return null;
        var (type, length) = header;
        if (length > MaxAuthenticationLength)
            throw new PgProtocolException(
                $"invalid message length {length} for message type '{(char)type}' before login (the limit is {MaxAuthenticationLength})");
        return await ReadBodyAsync(type, length, ct).ConfigureAwait(false);
    }

    private static string MessageName(byte type) => type switch
    {
        (byte)'Q' or (byte)'P' => "statement text",
        (byte)'B' => "bind message",
        _ => $"message of type '{(char)type}'",
    };

    /// <summary>The type byte and the length field; null when the client closed between messages.</summary>
    private async Task<(byte Type, int Length)?> ReadHeaderAsync(CancellationToken ct)
    {
        if (!await FillAsync(_header.AsMemory(0, 1), ct).ConfigureAwait(false)) return null;
        await ReadExactAsync(_header.AsMemory(1, 4), ct).ConfigureAwait(false);
        var type = _header[0];
        var length = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(1));
        // length counts itself, so 4 means an empty body; below 4 (or negative) is impossible.
        if (length < 4) throw new PgProtocolException($"invalid message length {length} for message type '{(char)type}'");
        return (type, length);
    }

    private async Task<IFrontendMessage> ReadBodyAsync(byte type, int length, CancellationToken ct)
    {
        var body = new byte[length - 4];
        await ReadExactAsync(body, ct).ConfigureAwait(false);
        return type switch
        {
            (byte)'Q' => new QueryMessage(ParseQuery(body)),
            (byte)'X' => body.Length == 0 ? TerminateMessage.Instance : throw new PgProtocolException("invalid Terminate message length"),
            (byte)'P' => ParseMessage.Read(body),
            (byte)'B' => BindMessage.Read(body),
            (byte)'D' => DescribeMessage.Read(body),
            (byte)'E' => ExecuteMessage.Read(body),
            (byte)'C' => CloseMessage.Read(body),
            (byte)'S' => body.Length == 0 ? SyncMessage.Instance : throw new PgProtocolException("invalid Sync message length"),
            (byte)'H' => body.Length == 0 ? FlushMessage.Instance : throw new PgProtocolException("invalid Flush message length"),
            _ => new UnsupportedMessage(type, body),
        };
    }

    private static void RequireLength(int length, int expected, string what)
    {
        if (length != expected) throw new PgProtocolException($"invalid length {length} of {what}, expected {expected}");
    }

    private static string ParseQuery(byte[] body)
    {
        // The text is one cstring filling the whole body: the terminator must be the last byte and the only zero.
        var end = Array.IndexOf(body, (byte)0);
        if (end != body.Length - 1) throw new PgProtocolException("invalid Query message: the query string is not one terminated string");
        return Decode(body.AsSpan(0, end));
    }

    private static Dictionary<string, string> ParsePairs(ReadOnlySpan<byte> span)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            var name = NextCString(ref span);
            if (name.Length == 0) break; // the lone zero byte that ends the list
            var value = NextCString(ref span);
            result[name] = value;
        }
        if (span.Length != 0) throw new PgProtocolException("invalid startup packet layout: bytes after the terminator");
        return result;
    }

    private static string NextCString(ref ReadOnlySpan<byte> span)
    {
        var end = span.IndexOf((byte)0);
        if (end < 0) throw new PgProtocolException("invalid startup packet layout: expected terminator as last byte");
        var text = Decode(span[..end]);
        span = span[(end + 1)..];
        return text;
    }

    private static string Decode(ReadOnlySpan<byte> bytes)
    {
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw new PgProtocolException("invalid byte sequence for encoding \"UTF8\"", "22021"); }
    }

    /// <summary>Reads exactly the buffer's length; false if the stream ended before the first byte.</summary>
    private async Task<bool> FillAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (read == 0) return false;
        if (read < buffer.Length) throw new EndOfStreamException("the client closed the connection in the middle of a message");
        return true;
    }

    private async Task ReadExactAsync(Memory<byte> buffer, CancellationToken ct)
    {
        if (buffer.Length == 0) return;
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (read < buffer.Length) throw new EndOfStreamException("the client closed the connection in the middle of a message");
    }
}
