using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace Vib3.Soak;

/// <summary>A Postgres wire connection at the frame level, for what psql cannot send: a Parse message of any size,
/// a SASL message that only announces its length, Bind + Flush with no Execute or Sync. Every read has a deadline.</summary>
internal sealed class PgRaw : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private PgRaw(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>A backend message: its type byte and body.</summary>
    public readonly record struct Message(char Type, byte[] Body)
    {
        /// <summary>An ErrorResponse's SQLSTATE and message ("53300 too many connections").</summary>
        public string Error
        {
            get
            {
                string? code = null, text = null;
                foreach (var part in Encoding.UTF8.GetString(Body).Split('\0', StringSplitOptions.RemoveEmptyEntries))
                    if (part[0] == 'C') code = part[1..];
                    else if (part[0] == 'M') text = part[1..];
                return $"{code} {text}";
            }
        }

        public int AuthCode => BinaryPrimitives.ReadInt32BigEndian(Body);
    }

    public static async Task<PgRaw> ConnectAsync(int port, TimeSpan deadline)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var cts = new CancellationTokenSource(deadline);
        try { await tcp.ConnectAsync("127.0.0.1", port, cts.Token); }
        catch { tcp.Dispose(); throw; }
        return new PgRaw(tcp);
    }

    /// <summary>Connects and logs in with trust authentication; throws with the server's error otherwise.</summary>
    public static async Task<PgRaw> LoginAsync(int port, TimeSpan deadline)
    {
        var c = await ConnectAsync(port, deadline);
        await c.SendStartupAsync();
        var m = await c.ReadUntilAsync('Z', deadline);
        return m.Type == 'Z' ? c : throw new IOException($"login refused: {m.Error}");
    }

    public Task SendStartupAsync()
    {
        var body = Encoding.UTF8.GetBytes($"user\0{VibServer.User}\0database\0vib3\0\0");
        var frame = new byte[8 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length);
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), 196608); // protocol 3.0
        body.CopyTo(frame, 8);
        return SendAsync(frame);
    }

    /// <summary>A typed frame: type byte, length (self-inclusive), body.</summary>
    public static byte[] Frame(char type, params byte[][] parts)
    {
        var length = 4 + parts.Sum(p => p.Length);
        var frame = new byte[1 + length];
        frame[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), length);
        var at = 5;
        foreach (var p in parts) { p.CopyTo(frame, at); at += p.Length; }
        return frame;
    }

    public static byte[] CString(string s) => Encoding.UTF8.GetBytes(s + "\0");

    public static byte[] Int16(short v) { var b = new byte[2]; BinaryPrimitives.WriteInt16BigEndian(b, v); return b; }

    public static byte[] Int32(int v) { var b = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, v); return b; }

    public static byte[] Query(string sql) => Frame('Q', CString(sql));

    public static byte[] Parse(string sql) => Frame('P', CString(""), CString(sql), Int16(0));

    public static byte[] Bind() => Frame('B', CString(""), CString(""), Int16(0), Int16(0), Int16(0));

    public static byte[] Flush() => Frame('H');

    public static byte[] Sync() => Frame('S');

    public async Task SendAsync(byte[] bytes, TimeSpan? deadline = null)
    {
        using var cts = new CancellationTokenSource(deadline ?? TimeSpan.FromSeconds(30));
        await _stream.WriteAsync(bytes, cts.Token);
        await _stream.FlushAsync(cts.Token);
    }

    public async Task<Message> ReadAsync(TimeSpan deadline)
    {
        using var cts = new CancellationTokenSource(deadline);
        var header = new byte[5];
        await _stream.ReadExactlyAsync(header, cts.Token);
        var length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1));
        if (length < 4 || length > 64 << 20) throw new IOException($"implausible backend message length {length}");
        var body = new byte[length - 4];
        await _stream.ReadExactlyAsync(body, cts.Token);
        return new Message((char)header[0], body);
    }

    /// <summary>Reads until a message of <paramref name="type"/>, an ErrorResponse or an authentication request
    /// other than OK; returns that message.</summary>
    public async Task<Message> ReadUntilAsync(char type, TimeSpan deadline)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var left = deadline - clock.Elapsed;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no '{type}' within {deadline.TotalSeconds:0} s");
            var m = await ReadAsync(left);
            if (m.Type == type || m.Type == 'E' || (m.Type == 'R' && m.AuthCode != 0)) return m;
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
