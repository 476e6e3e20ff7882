using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>Thousands of random, truncated and oversized frames over many short loopback connections (seeded, so a
/// failure reproduces); afterwards the server must still answer psql and Npgsql.</summary>
public sealed class FuzzTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    private const int Connections = 400;
    private const int Parallel = 8;

    private static readonly byte[] Types = "QPBDESHXCFdfcpQQPB?\0"u8.ToArray();

    private static readonly string[] Sql =
    [
        "SELECT name FROM vib3_models", "SHOW MODELS", "GENERATE 'x' FROM MODEL m MAX_TOKENS 2 SEED 1", "SELEC garbage (",
        "SELECT $1", "", ";;;", "SET temperature = 0.5", "DISCARD ALL", "GENERATE 'x' FROM MODEL m MAX_TOKENS 2 STREAM",
    ];

    [Fact]
    public async Task Random_truncated_and_oversized_frames_leave_the_server_serving()
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var frames = 0;
        var next = -1;
        var workers = Enumerable.Range(0, Parallel).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Connections && !budget.IsCancellationRequested)
                Interlocked.Add(ref frames, await OneConnectionAsync(new Random(1000 + i), budget.Token));
        }));
        await Task.WhenAll(workers);
        Assert.False(budget.IsCancellationRequested, "the fuzz run went over its time budget");
        Assert.True(frames >= 2000, $"only {frames} frames were sent");

        var psql = await Psql.RunAsync(server.Port, "-A", "-t", "-c", "SELECT name FROM vib3_models");
        Assert.True(psql.ExitCode == 0, psql.Error);
        Assert.Equal("m", psql.Output.Trim());
        await using var c = new NpgsqlConnection(
            $"Host=127.0.0.1;Port={server.Port};Username=test;Database=vib3;Server Compatibility Mode=NoTypeLoading;Pooling=false;Timeout=10");
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("GENERATE $1 FROM MODEL m MAX_TOKENS 2 SEED 1", c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = "still up" });
        Assert.IsType<string>(await cmd.ExecuteScalarAsync());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (server.Server.ActiveGenerations != 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, server.Server.ActiveGenerations);
    }

    /// <summary>One connection: maybe a startup packet (good, bad or truncated), then random frames; returns how many
    /// frames it wrote. Write errors (the server hung up on garbage) end the connection early.</summary>
    private async Task<int> OneConnectionAsync(Random rng, CancellationToken ct)
    {
        var sent = 0;
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", server.Port, ct);
            var s = client.GetStream();
            var kind = rng.Next(10);
            if (kind == 0)
            {
                await s.WriteAsync(RandomBytes(rng, rng.Next(1, 300)), ct); // no framing at all
                return 1;
            }
            if (kind == 1)
            {
                await s.WriteAsync(BadStartup(rng), ct);
                return 1;
            }
            await s.WriteAsync(Startup(rng), ct);
            sent++;
            var count = rng.Next(4, 16);
            for (var f = 0; f < count; f++)
            {
                await s.WriteAsync(Frame(rng), ct);
                sent++;
                if (rng.Next(8) == 0) await DrainAsync(s, rng.Next(1, 30), ct);
            }
            if (rng.Next(3) == 0) await DrainAsync(s, 50, ct);
        }
        catch (Exception e) when (e is IOException or SocketException) { }
        if (rng.Next(4) == 0) client.Client.LingerState = new LingerOption(true, 0); // sometimes a reset instead of FIN
        return sent;
    }

    /// <summary>Reads whatever the server sends for a few milliseconds.</summary>
    private static async Task DrainAsync(NetworkStream s, int milliseconds, CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(milliseconds);
        var buffer = new byte[8192];
        try
        {
            while (await s.ReadAsync(buffer, wait.Token) > 0) { }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    private static byte[] Startup(Random rng)
    {
        var text = rng.Next(6) == 0 ? "user\0\0" : "user\0fuzz\0database\0vib3\0\0";
        var body = Encoding.UTF8.GetBytes(text);
        var bytes = new byte[8 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), rng.Next(5) == 0 ? 80877103 : 196608); // sometimes SSLRequest
        body.CopyTo(bytes, 8);
        return rng.Next(5) == 0 ? bytes[..rng.Next(1, bytes.Length)] : bytes; // sometimes truncated
    }

    private static byte[] BadStartup(Random rng)
    {
        var length = rng.Next(4) switch
        {
            0 => rng.Next(-10, 8),
            1 => int.MaxValue,
            2 => PgMessageLimits.MaxStartup + 1,
            _ => rng.Next(8, 100_000), // more than is sent
        };
        var bytes = RandomBytes(rng, rng.Next(8, 64));
        BinaryPrimitives.WriteInt32BigEndian(bytes, length);
        return bytes;
    }

    private static byte[] Frame(Random rng)
    {
        var type = Types[rng.Next(Types.Length)];
        byte[] body = rng.Next(3) switch
        {
            0 when type == (byte)'Q' => Encoding.UTF8.GetBytes(Sql[rng.Next(Sql.Length)] + "\0"),
            0 when type == (byte)'P' => Encoding.UTF8.GetBytes("\0" + Sql[rng.Next(Sql.Length)] + "\0").Concat(new byte[2]).ToArray(),
            0 or 1 => RandomBytes(rng, rng.Next(0, 64)),
            _ => RandomBytes(rng, rng.Next(0, 600)),
        };
        var length = rng.Next(12) switch
        {
            0 => rng.Next(int.MinValue, 4), // impossible
            1 => int.MaxValue, // oversized
            2 => PgMessageLimits.MaxMessage + 1, // just over the limit
            3 => 4 + body.Length + rng.Next(1, 5000), // claims more than follows (truncated)
            _ => 4 + body.Length,
        };
        var frame = new byte[5 + body.Length];
        frame[0] = type;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), length);
        body.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>The reader's limits, named here so the oversized cases sit just past them.</summary>
    private static class PgMessageLimits
    {
        public const int MaxStartup = Protocol.PgMessageReader.MaxStartupLength;
        public const int MaxMessage = PgServerOptions.DefaultMaxMessageBytes + 4; // the length field counts itself
    }
}
