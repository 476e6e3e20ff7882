namespace Vib3.Server.PgWire.Tests;

/// <summary>Stopping the server (what SIGTERM does) ends every connection with FATAL 57P01, as PostgreSQL's fast
/// shutdown does, whether the client was idle or in the middle of a streamed GENERATE. Before, connections were just
/// closed: a client could not tell a stopping server from a crashed one or a network failure (found by
/// `vib3-soak reliability`, sigterm-32-streams: 16 of 16 Npgsql streams ended with "read past the end of the stream").
/// Each test stops its own server.</summary>
public sealed class ShutdownTests : IAsyncLifetime
{
    private readonly PgServerFixture _server = new();

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task An_idle_connection_gets_57P01_when_the_server_stops()
    {
        using var client = await RawPg.LoginAsync(_server.Port);
        await _server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var (severity, state, message) = await RawPg.FatalAsync(client.GetStream());
        Assert.Equal(("FATAL", "57P01"), (severity, state));
        Assert.Equal("terminating connection due to administrator command", message);
    }

    [Fact]
    public async Task A_streaming_generate_ends_with_57P01_when_the_server_stops()
    {
        using var client = await RawPg.LoginAsync(_server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(RawPg.Query("GENERATE 'tell a long story' FROM MODEL m MAX_TOKENS 100 STREAM"));
        while ((await RawPg.ReadMessageAsync(stream)).Type != 'D') { } // the first token row: the statement runs
        await _server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        // whatever rows (and, had it finished first, CommandComplete and ReadyForQuery) were sent, the connection's
        // last message is the FATAL, then the close
        var rest = await RawPg.ReadToCloseAsync(stream);
        var (lastType, lastBody) = (' ', Array.Empty<byte>());
        for (var at = 0; at < rest.Length;)
        {
            var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(rest.AsSpan(at + 1));
            (lastType, lastBody) = ((char)rest[at], rest[(at + 5)..(at + 1 + length)]);
            at += 1 + length;
        }
        Assert.True(lastType == 'E', $"the last message before the close was '{lastType}', not an ErrorResponse ({rest.Length} bytes after the first row)");
        var (severity, state, _) = RawPg.Error(lastBody);
        Assert.Equal(("FATAL", "57P01"), (severity, state));
    }
}
