using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using static Vib3.Server.PgWire.Tests.RawPg;

namespace Vib3.Server.PgWire.Tests;

/// <summary>Hand-made extended-protocol messages: the exact replies to Parse/Bind/Describe/Execute/Close/Sync.</summary>
public sealed class ExtendedProtocolTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    /// <summary>A logged-in connection (trust mode); disposing the stream closes the socket.</summary>
    private async Task<NetworkStream> ConnectAsync() => new((await LoginAsync(server.Port)).Client, ownsSocket: true);

    /// <summary>Sends <paramref name="messages"/> and returns the types of the replies up to ReadyForQuery.</summary>
    private static async Task<string> ExchangeAsync(Stream stream, params byte[][] messages)
    {
        foreach (var m in messages) await stream.WriteAsync(m);
        return new string([.. await ReadUntilReadyAsync(stream)]);
    }

    [Fact]
    public async Task Describe_statement_always_sends_parameter_description_then_row_description_or_no_data()
    {
        await using var s = await ConnectAsync();
        Assert.Equal("1tTZ", await ExchangeAsync(s, Parse("a", "SELECT name FROM vib3_models"), Describe('S', "a"), Sync()));
        Assert.Equal("1tnZ", await ExchangeAsync(s, Parse("b", "SET x = 1"), Describe('S', "b"), Sync()));
        Assert.Equal("1tTZ", await ExchangeAsync(s, Parse("c", "GENERATE $1 FROM MODEL m STREAM", 0), Describe('S', "c"), Sync()));
        await s.WriteAsync(Parse("d", "SELECT name FROM vib3_models WHERE name = $2 OR name = $1", 25));
        await s.WriteAsync(Describe('S', "d"));
        await s.WriteAsync(Sync());
        var replies = await ReadMessagesUntilReadyAsync(s);
        var t = replies.Single(r => r.Type == 't').Body;
        Assert.Equal(2, BinaryPrimitives.ReadInt16BigEndian(t));
        Assert.Equal(25, BinaryPrimitives.ReadInt32BigEndian(t.AsSpan(2)));
        Assert.Equal(25, BinaryPrimitives.ReadInt32BigEndian(t.AsSpan(6))); // unspecified reads as text
    }

    [Fact]
    public async Task Execute_with_a_row_limit_suspends_and_the_next_execute_continues()
    {
        await using var s = await ConnectAsync();
        var types = await ExchangeAsync(s,
            Parse("", "SELECT layer FROM vib3_layers ORDER BY layer"), Bind("p", "", [], [], []), Describe('P', "p"),
            Execute("p", 1), Execute("p", 1), Execute("p", 1), Sync());
        Assert.Equal("12TDsDsCZ", types);
        // After Sync the portal is gone.
        await s.WriteAsync(Execute("p", 0));
        await s.WriteAsync(Sync());
        var replies = await ReadMessagesUntilReadyAsync(s);
        Assert.Equal('E', replies[0].Type);
        Assert.Contains("C34000\0", Encoding.UTF8.GetString(replies[0].Body));
    }

    [Fact]
    public async Task After_an_error_messages_are_skipped_until_sync()
    {
        await using var s = await ConnectAsync();
        Assert.Equal("EZ", await ExchangeAsync(s, Parse("", "SELEKT 1"), Bind("", "", [], [], []), Execute("", 0), Sync()));
        Assert.Equal("12DCZ", await ExchangeAsync(s, Parse("", "SELECT name FROM vib3_models"), Bind("", "", [], [], []),
            Execute("", 0), Sync()));
        // Wrong parameter count at Bind.
        Assert.Equal("1EZ", await ExchangeAsync(s, Parse("", "SELECT $1"), Bind("", "", [], [], []), Execute("", 0), Sync()));
    }

    [Fact]
    public async Task Result_formats_none_one_or_per_column_and_binary_parameters()
    {
        await using var s = await ConnectAsync();
        var seven = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(seven, 7);
        foreach (var (formats, expectBinary) in new (short[], bool[])[]
                 {
                     ([], [false, false, false, false]), ([1], [true, true, true, true]), ([0, 1, 1, 0], [false, true, true, false]),
                 })
        {
            await s.WriteAsync(Parse("", "SELECT $1 AS t, $2 AS n, 1.5 AS f, true AS b", 25, 20));
            await s.WriteAsync(Bind("", "", [1], ["hi"u8.ToArray(), seven], formats));
            await s.WriteAsync(Describe('P', ""));
            await s.WriteAsync(Execute("", 0));
            await s.WriteAsync(Sync());
            var replies = await ReadMessagesUntilReadyAsync(s);
            Assert.Equal("12TDCZ", new string(replies.Select(r => r.Type).ToArray()));
            var row = replies[3].Body;
            var values = new List<byte[]>();
            var at = 2;
            for (var i = 0; i < 4; i++)
            {
                var len = BinaryPrimitives.ReadInt32BigEndian(row.AsSpan(at));
                values.Add(row.AsSpan(at + 4, len).ToArray());
                at += 4 + len;
            }
            Assert.Equal("hi", Encoding.UTF8.GetString(values[0]));
            Assert.Equal(expectBinary[1] ? seven : "7"u8.ToArray(), values[1]);
            Assert.Equal(expectBinary[2] ? BitConverter.GetBytes(1.5).Reverse().ToArray() : "1.5"u8.ToArray(), values[2]);
            Assert.Equal(expectBinary[3] ? [1] : "t"u8.ToArray(), values[3]);
        }
    }

    [Fact]
    public async Task Close_flush_and_named_statements()
    {
        await using var s = await ConnectAsync();
        await s.WriteAsync(Parse("q", "SHOW MODELS"));
        await s.WriteAsync(Flush());
        Assert.Equal('1', (await ReadMessageAsync(s)).Type); // Flush() sends without waiting for Sync
        Assert.Equal("2DC2DCZ", await ExchangeAsync(s, Bind("", "q", [], [], []), Execute("", 0),
            Bind("", "q", [], [], []), Execute("", 0), Sync()));
        Assert.Equal("EZ", await ExchangeAsync(s, Parse("q", "SHOW MODELS"), Sync())); // already exists
        Assert.Equal("33Z", await ExchangeAsync(s, Close('S', "q"), Close('P', "nothing"), Sync()));
        Assert.Equal("EZ", await ExchangeAsync(s, Bind("", "q", [], [], []), Sync()));
        Assert.Equal("12IZ", await ExchangeAsync(s, Parse("", ""), Bind("", "", [], [], []), Execute("", 0), Sync()));
    }
}
