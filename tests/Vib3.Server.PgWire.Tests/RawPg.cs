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

    public static byte[] Query(string sql) => Frame('Q', CString(sql));

    /// <summary>Parse of the unnamed statement (no parameter types).</summary>
    public static byte[] Parse(string sql) => Frame('P', [.. CString(""), .. CString(sql), 0, 0]);

    /// <summary>Bind of the unnamed statement to the unnamed portal, no parameters, default result formats.</summary>
    public static byte[] Bind() => Frame('B', [.. CString(""), .. CString(""), 0, 0, 0, 0, 0, 0]);

    /// <summary>Execute of the unnamed portal, at most <paramref name="maxRows"/> rows (0: all).</summary>
    public static byte[] Execute(int maxRows)
    {
        var body = new byte[5];
        BinaryPrimitives.WriteInt32BigEndian(body.AsSpan(1), maxRows);
        return Frame('E', body);
    }

    public static byte[] Flush() => Frame('H', []);

    public static byte[] Sync() => Frame('S', []);

    private static byte[] CString(string s) => Encoding.UTF8.GetBytes(s + "\0");

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

    /// <summary>The types of the messages up to and including ReadyForQuery.</summary>
    public static async Task<List<char>> ReadUntilReadyAsync(Stream stream)
    {
        var types = new List<char>();
        while (true)
        {
            var (type, _) = await ReadMessageAsync(stream);
            types.Add(type);
            if (type == 'Z') return types;
        }
    }

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
