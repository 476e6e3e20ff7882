using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A server with four generation slots whose generations run long (<see cref="SlowGenerationServerFixture"/>).</summary>
public sealed class FourSlotsSlowServerFixture : SlowGenerationServerFixture
{
    protected override PgServerOptions Configure(PgServerOptions options) => options with { MaxConcurrentGenerations = 4 };
}

/// <summary>Cancel requests, disconnects and the generation limit against GENERATEs that are really running.</summary>
public sealed class CancelAndConcurrencyTests(FourSlotsSlowServerFixture server) : IClassFixture<FourSlotsSlowServerFixture>
{
    private const string SlowStream = SlowGenerationServerFixture.LongGenerate;

    private Task<NpgsqlConnection> OpenAsync() => NpgsqlClient.OpenAsync(server.Port);

    private async Task WaitForNoGenerationsAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (server.Server.ActiveGenerations != 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, server.Server.ActiveGenerations);
    }

    /// <summary>Reads to the end expecting the 57014 error (Npgsql raises it as an OperationCanceledException
    /// around the PostgresException when the cancellation was its own); returns it and the rows read before it.</summary>
    private static async Task<(PostgresException Error, int Rows)> CancelledAsync(NpgsqlDataReader reader)
    {
        var rows = 0;
        var e = await Assert.ThrowsAnyAsync<Exception>(async () => { while (await reader.ReadAsync()) rows++; });
        return (e as PostgresException ?? e.InnerException as PostgresException
            ?? throw new Xunit.Sdk.XunitException($"expected a PostgresException, got {e}"), rows);
    }

    /// <summary>The engine stopped generating: its token count no longer moves (a forward pass that ran on would add
    /// a token every few tens of milliseconds), and it is far below what the statement asked for.</summary>
    private async Task AssertGenerationStoppedAsync(long before)
    {
        await WaitForNoGenerationsAsync();
        var stopped = server.GeneratedTokens;
        await Task.Delay(300);
        Assert.Equal(stopped, server.GeneratedTokens);
        Assert.True(stopped - before < SlowGenerationServerFixture.LongMaxTokens / 4,
            $"{stopped - before} tokens generated of {SlowGenerationServerFixture.LongMaxTokens}");
    }

    private static async Task AssertConnectionWorksAsync(NpgsqlConnection c)
    {
        await using var cmd = new NpgsqlCommand("SELECT name FROM vib3_models", c);
        Assert.Equal("m", await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Cancel_ends_a_running_generate_with_57014_long_before_its_max_tokens_and_the_connection_stays_usable()
    {
        await using var c = await OpenAsync();
        var before = server.GeneratedTokens;
        await using (var cmd = new NpgsqlCommand(SlowStream, c))
        {
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync()); // the statement is running: the model is generating the next rows
            cmd.Cancel();
            var (e, rows) = await CancelledAsync(reader);
            Assert.Equal("57014", e.SqlState);
            Assert.Equal("canceling statement due to user request", e.MessageText);
            Assert.True(rows < SlowGenerationServerFixture.LongMaxTokens / 4, $"{rows} rows after the cancel");
        }
        await AssertGenerationStoppedAsync(before);
        await AssertConnectionWorksAsync(c);
    }

    [Fact]
    public async Task Cancelling_the_token_of_a_running_generate_gives_57014()
    {
        await using var c = await OpenAsync();
        using var cts = new CancellationTokenSource();
        await using (var cmd = new NpgsqlCommand(SlowStream, c))
        {
            await using var reader = await cmd.ExecuteReaderAsync(cts.Token);
            Assert.True(await reader.ReadAsync(cts.Token));
            cts.CancelAfter(TimeSpan.FromMilliseconds(100));
            var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { while (await reader.ReadAsync(cts.Token)) { } });
            Assert.Equal("57014", Assert.IsType<PostgresException>(e.InnerException).SqlState);
        }
        await AssertConnectionWorksAsync(c);
    }

    /// <summary>Forty generations on a budget of a few pages, each cancelled a few milliseconds after its first row:
    /// each next one must start (before, one run in five hung: a page stream read further ahead than the cache holds,
    /// a later resident page was pinned at once, and the earlier read waited for room only the stream's own pages
    /// could free; and a read abandoned by the cancel kept its place at the head of the queue for room), and at the end
    /// no page is left pinned and no room reserved.</summary>
    [Fact]
    public async Task Generations_cancelled_at_random_points_leave_nothing_held_and_the_next_one_runs()
    {
        var random = new Random(17);
        for (var i = 0; i < 40; i++)
        {
            await using var c = await OpenAsync();
            await using var cmd = new NpgsqlCommand(SlowStream, c);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await using (var reader = await cmd.ExecuteReaderAsync(deadline.Token))
            {
                Assert.True(await reader.ReadAsync(deadline.Token), $"generation {i} gave no row");
                await Task.Delay(random.Next(0, 30), deadline.Token);
                cmd.Cancel();
                var (error, _) = await CancelledAsync(reader);
                Assert.Equal("57014", error.SqlState);
            }
            Assert.False(deadline.IsCancellationRequested, $"generation {i} did not end within 20 s");
        }
        await WaitForNoGenerationsAsync();
        // Reads under way when a step stopped finish and are released, not aborted: give them a moment.
        var pool = server.Engine.Generations.RamBudget;
        for (var wait = 0; wait < 100 && (pool.PinnedBytes, pool.LoadingBytes) != (0L, 0L); wait++)
        {
            await Task.Delay(20);
            pool = server.Engine.Generations.RamBudget;
        }
        Assert.True((pool.PinnedBytes, pool.LoadingBytes) == (0L, 0L), pool.ToString());
    }

    [Fact]
    public async Task A_cancel_request_with_wrong_keys_is_ignored()
    {
        await using var c = await OpenAsync();
        // Long enough (a token every few tens of milliseconds) for the wrong cancels to arrive while it runs.
        await using (var cmd = new NpgsqlCommand("GENERATE 'slowly' FROM MODEL m MAX_TOKENS 200 TEMPERATURE 0 STREAM", c))
        {
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            foreach (var (pid, secret) in new[] { (c.ProcessID, 12345), (c.ProcessID + 1000, 0) })
            {
                using var raw = new TcpClient();
                await raw.ConnectAsync("127.0.0.1", server.Port);
                var packet = new byte[16];
                BinaryPrimitives.WriteInt32BigEndian(packet, 16);
                BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(4), 80877102);
                BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(8), pid);
                BinaryPrimitives.WriteInt32BigEndian(packet.AsSpan(12), secret);
                await raw.GetStream().WriteAsync(packet);
                Assert.Equal(0, await raw.GetStream().ReadAsync(new byte[1])); // no reply, just closed
            }
            Assert.Equal(1, server.Server.ActiveGenerations); // still running when the wrong cancels came
            while (await reader.ReadAsync()) { } // the statement finishes normally
        }
        await AssertConnectionWorksAsync(c);
    }

    [Fact]
    public async Task Generations_beyond_the_limit_fail_fast_with_53000()
    {
        var connections = new List<NpgsqlConnection>();
        var commands = new List<NpgsqlCommand>();
        var readers = new List<NpgsqlDataReader>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var c = await OpenAsync();
                connections.Add(c);
                var cmd = new NpgsqlCommand(SlowStream, c);
                commands.Add(cmd);
                var reader = await cmd.ExecuteReaderAsync();
                readers.Add(reader);
                Assert.True(await reader.ReadAsync());
            }
            Assert.Equal(4, server.Server.ActiveGenerations);

            // Npgsql counts SQLSTATE class 53 as a critical failure and drops the connection, so one connection each.
            foreach (var sql in new[] { "GENERATE 'hi' FROM MODEL m MAX_TOKENS 2 SEED 1", "EXPLAIN ANALYZE GENERATE 'hi' FROM MODEL m MAX_TOKENS 2" })
            {
                await using var extra = await OpenAsync();
                await using var cmd = new NpgsqlCommand(sql, extra);
                var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteScalarAsync());
                Assert.Equal("53000", e.SqlState);
                Assert.Equal("too many concurrent generations (limit 4)", e.MessageText);
            }
            // psql (simple protocol) keeps its connection: the error, then the next statement runs.
            var psql = await Psql.RunAsync(server.Port, "-v", "VERBOSITY=verbose", "-c", "GENERATE 'hi' FROM MODEL m MAX_TOKENS 2",
                "-c", "SELECT name FROM vib3_models");
            Assert.Contains("53000", psql.Error);
            Assert.Contains("too many concurrent generations (limit 4)", psql.Error);
            Assert.Contains("m", psql.Output);
            await using (var other = await OpenAsync()) await AssertConnectionWorksAsync(other); // other statements are not limited

            for (var i = 0; i < commands.Count; i++)
            {
                commands[i].Cancel();
                Assert.Equal("57014", (await CancelledAsync(readers[i])).Error.SqlState);
            }
        }
        finally
        {
            foreach (var r in readers) await r.DisposeAsync();
            foreach (var cmd in commands) await cmd.DisposeAsync();
            foreach (var c in connections) await c.DisposeAsync();
        }
        await WaitForNoGenerationsAsync();
        await using (var again = await OpenAsync())
        await using (var cmd = new NpgsqlCommand("GENERATE 'hi' FROM MODEL m MAX_TOKENS 2 SEED 1", again))
            Assert.NotNull(await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Thirty_two_concurrent_connections_all_run_selects()
    {
        var tasks = Enumerable.Range(0, 32).Select(async i =>
        {
            await using var c = await OpenAsync();
            for (var k = 0; k < 5; k++)
            {
                await using var cmd = new NpgsqlCommand("SELECT name, $1 AS i FROM vib3_models", c);
                cmd.Parameters.Add(new NpgsqlParameter { Value = (long)i });
                await using var reader = await cmd.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                Assert.Equal("m", reader.GetString(0));
                Assert.Equal((long)i, reader.GetInt64(1));
            }
        });
        await Task.WhenAll(tasks);
    }

    [Theory]
    [InlineData(SlowStream, true)]
    [InlineData(SlowStream, false)]
    [InlineData("GENERATE 'slowly' FROM MODEL m MAX_TOKENS 2000 TEMPERATURE 0", true)]
    public async Task A_client_that_disconnects_mid_generate_cancels_it(string sql, bool reset)
    {
        await WaitForNoGenerationsAsync();
        var before = server.GeneratedTokens;
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync("127.0.0.1", server.Port);
            var s = raw.GetStream();
            await s.WriteAsync(Startup());
            await s.WriteAsync(Query(sql));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (server.Server.ActiveGenerations == 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
            Assert.Equal(1, server.Server.ActiveGenerations);
            if (reset) raw.Client.LingerState = new LingerOption(true, 0); // a reset, as from a killed client
        }
        // A generation that had a minute to go ends within a second: the server saw the client leave (a GENERATE
        // without STREAM writes nothing until its end, so not through a failed write).
        var closed = DateTime.UtcNow;
        while (server.Server.ActiveGenerations != 0 && DateTime.UtcNow - closed < TimeSpan.FromSeconds(5)) await Task.Delay(10);
        Assert.Equal(0, server.Server.ActiveGenerations);
        Assert.True(DateTime.UtcNow - closed < TimeSpan.FromSeconds(1),
            $"the generation ended {(DateTime.UtcNow - closed).TotalMilliseconds:F0} ms after the client left");
        await AssertGenerationStoppedAsync(before);
    }

    private static byte[] Startup()
    {
        var body = Encoding.UTF8.GetBytes("user\0test\0database\0vib3\0\0");
        var bytes = new byte[8 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), 196608);
        body.CopyTo(bytes, 8);
        return bytes;
    }

    private static byte[] Query(string sql)
    {
        var text = Encoding.UTF8.GetBytes(sql + "\0");
        var bytes = new byte[5 + text.Length];
        bytes[0] = (byte)'Q';
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), 4 + text.Length);
        text.CopyTo(bytes, 5);
        return bytes;
    }
}
