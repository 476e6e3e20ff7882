using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A client speaking the wire protocol byte by byte, for what drivers never send: frames built by hand,
/// messages read one at a time, every wait bounded.</summary>
public static class RawPg
{
    public const int Protocol30 = 196608;

    public static async Task<TcpClient> ConnectAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        return client;
    }

    /// <summary>A connection that has sent a StartupMessage as user "test" and read up to ReadyForQuery (trust mode).</summary>
    public static async Task<TcpClient> LoginAsync(int port)
    {
        var client = await ConnectAsync(port);
        var stream = client.GetStream();
        await stream.WriteAsync(Startup(Protocol30, ("user", "test"), ("database", "vib3")));
        await ReadUntilReadyAsync(stream);
        return client;
    }

    public static byte[] Startup(int version, params (string, string)[] parameters)
    {
        using var ms = new MemoryStream();
        ms.Write(new byte[8]);
        foreach (var (k, v) in parameters)
        {
            ms.Write(Encoding.UTF8.GetBytes(k)); ms.WriteByte(0);
            ms.Write(Encoding.UTF8.GetBytes(v)); ms.WriteByte(0);
        }
        ms.WriteByte(0);
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), version);
        return bytes;
    }

    /// <summary>One frontend message: type, Int32 length (itself + body), body.</summary>
    public static byte[] Frame(char type, byte[] body)
    {
        var bytes = new byte[5 + body.Length];
        bytes[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), 4 + body.Length);
        body.CopyTo(bytes, 5);
        return bytes;
    }

    /// <summary>Only the header of a message: its type and a length field claiming <paramref name="length"/>.</summary>
    public static byte[] Header(char type, int length)
    {
        var bytes = new byte[5];
        bytes[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), length);
        return bytes;
    }

    public static byte[] Query(string sql) => new Body().Str(sql).Frame('Q');

    /// <summary>Parse of statement <paramref name="name"/> ("" is the unnamed one) declaring the parameter type OIDs
    /// <paramref name="types"/> (0: unspecified).</summary>
    public static byte[] Parse(string name, string sql, params int[] types)
    {
        var body = new Body().Str(name).Str(sql).I16(types.Length);
        foreach (var t in types) body.I32(t);
        return body.Frame('P');
    }

    /// <summary>Parse of the unnamed statement (no parameter types).</summary>
    public static byte[] Parse(string sql) => Parse("", sql);

    /// <summary>Bind of <paramref name="statement"/> to <paramref name="portal"/>: parameter format codes, values
    /// (null is SQL NULL) and result format codes, each list as the protocol counts it.</summary>
    public static byte[] Bind(string portal, string statement, short[] paramFormats, byte[]?[] values, short[] resultFormats)
    {
        var body = new Body().Str(portal).Str(statement).I16(paramFormats.Length);
        foreach (var f in paramFormats) body.I16(f);
        body.I16(values.Length);
        foreach (var v in values)
        {
            if (v is null) body.I32(-1);
            else body.I32(v.Length).Bytes(v);
        }
        body.I16(resultFormats.Length);
        foreach (var f in resultFormats) body.I16(f);
        return body.Frame('B');
    }

    /// <summary>Bind of the unnamed statement to the unnamed portal, no parameters, default result formats.</summary>
    public static byte[] Bind() => Bind("", "", [], [], []);

    /// <summary>Describe of a statement ('S') or portal ('P').</summary>
    public static byte[] Describe(char kind, string name) => new Body().Byte(kind).Str(name).Frame('D');

    /// <summary>Execute of <paramref name="portal"/>, at most <paramref name="maxRows"/> rows (0: all).</summary>
    public static byte[] Execute(string portal, int maxRows) => new Body().Str(portal).I32(maxRows).Frame('E');

    /// <summary>Execute of the unnamed portal, at most <paramref name="maxRows"/> rows (0: all).</summary>
    public static byte[] Execute(int maxRows) => Execute("", maxRows);

    /// <summary>Close of a statement ('S') or portal ('P').</summary>
    public static byte[] Close(char kind, string name) => new Body().Byte(kind).Str(name).Frame('C');

    public static byte[] Flush() => Frame('H', []);

    public static byte[] Sync() => Frame('S', []);

    /// <summary>A message body written field by field in the protocol's encodings (big-endian integers, C strings).</summary>
    private sealed class Body
    {
        private readonly MemoryStream _bytes = new();

        public Body Str(string s) { _bytes.Write(Encoding.UTF8.GetBytes(s)); _bytes.WriteByte(0); return this; }
        public Body I16(int v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteInt16BigEndian(b, (short)v); _bytes.Write(b); return this; }
        public Body I32(int v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, v); _bytes.Write(b); return this; }
        public Body Byte(char c) { _bytes.WriteByte((byte)c); return this; }
        public Body Bytes(byte[] v) { _bytes.Write(v); return this; }

        public byte[] Frame(char type) => RawPg.Frame(type, _bytes.ToArray());
    }

    /// <summary>Reads one backend message: type and body (10 s at most).</summary>
    public static async Task<(char Type, byte[] Body)> ReadMessageAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var header = new byte[5];
        await stream.ReadExactlyAsync(header, timeout.Token);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1)) - 4];
        await stream.ReadExactlyAsync(body, timeout.Token);
        return ((char)header[0], body);
    }

    /// <summary>The messages up to and including ReadyForQuery.</summary>
    public static async Task<List<(char Type, byte[] Body)>> ReadMessagesUntilReadyAsync(Stream stream)
    {
        var messages = new List<(char, byte[])>();
        while (true)
        {
            var message = await ReadMessageAsync(stream);
            messages.Add(message);
            if (message.Type == 'Z') return messages;
        }
    }

    /// <summary>The types of the messages up to and including ReadyForQuery.</summary>
    public static async Task<List<char>> ReadUntilReadyAsync(Stream stream) =>
        [.. (await ReadMessagesUntilReadyAsync(stream)).Select(m => m.Type)];

    /// <summary>Everything the server sends until it closes the connection (10 s at most).</summary>
    public static async Task<byte[]> ReadToCloseAsync(Stream stream)
    {
        using var all = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[4096];
        int n;
        while ((n = await stream.ReadAsync(buffer, timeout.Token)) > 0) all.Write(buffer, 0, n);
        return all.ToArray();
    }

    /// <summary>The severity, SQLSTATE and message of an ErrorResponse body.</summary>
    public static (string Severity, string SqlState, string Message) Error(byte[] body)
    {
        var fields = Encoding.UTF8.GetString(body).Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(f => f[0], f => f[1..]);
        return (fields['S'], fields['C'], fields['M']);
    }

    /// <summary>Reads to the close, which must come after exactly one ErrorResponse; returns its fields.</summary>
    public static async Task<(string Severity, string SqlState, string Message)> FatalAsync(Stream stream)
    {
        var reply = await ReadToCloseAsync(stream);
        Assert.True(reply.Length > 5 && reply[0] == (byte)'E', $"expected an ErrorResponse, got {reply.Length} bytes");
        var length = BinaryPrimitives.ReadInt32BigEndian(reply.AsSpan(1));
        Assert.Equal(reply.Length, 1 + length);
        return Error(reply[5..]);
    }
}
