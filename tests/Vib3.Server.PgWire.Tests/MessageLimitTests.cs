using System.Diagnostics;

namespace Vib3.Server.PgWire.Tests;

/// <summary>What a client may make the server allocate: a few KiB before login, --max-message-bytes after. Each limit
/// is checked from the length field, so a header alone claiming more is answered at once (the body the server would
/// otherwise wait for never comes).</summary>
public sealed class MessageLimitTests(PasswordServerFixture server) : IClassFixture<PasswordServerFixture>
{
    /// <summary>Well under the time the tests allow a read (10 s), so an answer this fast came from the header alone.</summary>
    private static readonly TimeSpan AtOnce = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_SASL_message_claiming_64_MiB_before_login_is_refused_from_its_header()
    {
        using var client = await RawPg.ConnectAsync(server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(RawPg.Startup(RawPg.Protocol30, ("user", "test")));
        Assert.Equal('R', (await RawPg.ReadMessageAsync(stream)).Type); // AuthenticationSASL
        var sent = Stopwatch.StartNew();
        await stream.WriteAsync(RawPg.Header('p', 64 << 20));
        var (severity, state, message) = await RawPg.FatalAsync(stream);
        Assert.True(sent.Elapsed < AtOnce, $"answered after {sent.Elapsed}");
        Assert.Equal(("FATAL", "08P01"), (severity, state));
        Assert.Equal("invalid message length 67108864 for message type 'p' before login (the limit is 2048)", message);
        var psql = await Psql.RunWithPasswordAsync(server.Port, PasswordServerFixture.Password, "-A", "-t", "-c", "SELECT name FROM vib3_models");
        Assert.True(psql.ExitCode == 0, psql.Error);
    }

    [Fact]
    public async Task A_startup_packet_over_10000_bytes_is_refused_from_its_length()
    {
        using var client = await RawPg.ConnectAsync(server.Port);
        var stream = client.GetStream();
        var header = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, 10_001);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), RawPg.Protocol30);
        var sent = Stopwatch.StartNew();
        await stream.WriteAsync(header);
        var (severity, state, message) = await RawPg.FatalAsync(stream);
        Assert.True(sent.Elapsed < AtOnce, $"answered after {sent.Elapsed}");
        Assert.Equal(("FATAL", "08P01", "invalid length of startup packet: 10001"), (severity, state, message));
    }
}

/// <summary>The same after login, on a trusting server.</summary>
public sealed class StatementSizeLimitTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    [Theory]
    [InlineData('Q', "statement text")]
    [InlineData('B', "bind message")]
    public async Task A_message_over_max_message_bytes_is_refused_from_its_header_with_54000(char type, string what)
    {
        using var client = await RawPg.LoginAsync(server.Port);
        var stream = client.GetStream();
        var body = PgServerOptions.DefaultMaxMessageBytes + 1;
        var sent = Stopwatch.StartNew();
        await stream.WriteAsync(RawPg.Header(type, 4 + body));
        var (severity, state, message) = await RawPg.FatalAsync(stream);
        Assert.True(sent.Elapsed < TimeSpan.FromSeconds(3), $"answered after {sent.Elapsed}");
        Assert.Equal(("FATAL", "54000"), (severity, state));
        Assert.Equal($"{what} is {body} bytes, over the limit of {PgServerOptions.DefaultMaxMessageBytes} bytes", message);
    }
}
