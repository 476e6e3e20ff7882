using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using static Vib3.Server.PgWire.Tests.RawPg;

namespace Vib3.Server.PgWire.Tests;

/// <summary>Hand-made packets: what the server does with garbage, truncated and unusual startups.</summary>
public sealed class RawSocketTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    private async Task<NetworkStream> ConnectAsync()
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", server.Port);
        var stream = client.GetStream();
        stream.ReadTimeout = 10_000;
        return stream;
    }

    [Fact]
    public async Task Garbage_instead_of_a_startup_packet_gets_an_error_or_a_close_and_psql_still_works()
    {
        await using (var stream = await ConnectAsync())
        {
            await stream.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var reply = await ReadToCloseAsync(stream);
            if (reply.Length > 0)
            {
                Assert.Equal((byte)'E', reply[0]);
                Assert.Contains("08P01", Encoding.UTF8.GetString(reply));
            }
        }
        await using (var stream = await ConnectAsync())
        {
            await stream.WriteAsync(new byte[] { 0xFF, 0xFF, 0xFF, 0xF0, 1, 2, 3, 4 }); // negative length
            var reply = await ReadToCloseAsync(stream);
            Assert.True(reply.Length == 0 || reply[0] == (byte)'E');
        }
        var r = await Psql.RunAsync(server.Port, "-A", "-t", "-c", "SELECT name FROM vib3_models");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("m", r.Output.Trim());
    }

    [Fact]
    public async Task A_truncated_startup_packet_is_closed_not_waited_on()
    {
        var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Startup(196608, ("user", "test"))[..10]);
        client.Client.Shutdown(SocketShutdown.Send);
        var reply = await ReadToCloseAsync(stream); // returns once the server closes
        Assert.Empty(reply);
        client.Dispose();
    }

    [Fact]
    public async Task An_unknown_protocol_version_is_refused_with_a_fatal_error()
    {
        await using var stream = await ConnectAsync();
        await stream.WriteAsync(Startup(2 << 16, ("user", "test")));
        var reply = await ReadToCloseAsync(stream);
        Assert.Equal((byte)'E', reply[0]);
        Assert.Contains("FATAL", Encoding.UTF8.GetString(reply));
    }

    [Fact]
    public async Task Protocol_3_2_gets_negotiate_protocol_version_then_a_3_0_session()
    {
        await using var stream = await ConnectAsync();
        await stream.WriteAsync(Startup((3 << 16) | 2, ("user", "test"), ("_pq_.x", "1")));
        var (type, body) = await ReadMessageAsync(stream);
        Assert.Equal('v', type);
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(body));
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(4)));
        Assert.Equal("_pq_.x\0", Encoding.UTF8.GetString(body.AsSpan(8)));
        var types = await ReadUntilReadyAsync(stream);
        Assert.Equal('R', types[0]);
        Assert.Contains('K', types);
    }

    [Fact]
    public async Task Startup_parameters_then_empty_query_then_terminate()
    {
        await using var stream = await ConnectAsync();
        await stream.WriteAsync(Startup(196608, ("user", "alice"), ("database", "vib3"), ("application_name", "raw")));
        var parameters = new Dictionary<string, string>();
        while (true)
        {
            var (type, body) = await ReadMessageAsync(stream);
            if (type == 'S')
            {
                var parts = Encoding.UTF8.GetString(body).Split('\0');
                parameters[parts[0]] = parts[1];
            }
            if (type == 'Z')
            {
                Assert.Equal((byte)'I', body[0]);
                break;
            }
        }
        Assert.Equal("16.0", parameters["server_version"]);
        Assert.Equal("UTF8", parameters["client_encoding"]);
        Assert.Equal("raw", parameters["application_name"]);
        Assert.Equal("alice", parameters["session_authorization"]);
        Assert.Equal("on", parameters["standard_conforming_strings"]);

        await stream.WriteAsync(RawPg.Query(""));
        Assert.Equal(['I', 'Z'], await ReadUntilReadyAsync(stream));
        await stream.WriteAsync(RawPg.Query("SELEKT 1"));
        var error = await ReadMessageAsync(stream);
        Assert.Equal('E', error.Type);
        var fields = Encoding.UTF8.GetString(error.Body);
        Assert.Contains("C42601\0", fields);
        Assert.Contains("SERROR\0", fields);
        Assert.Equal('Z', (await ReadMessageAsync(stream)).Type);
        await stream.WriteAsync(RawPg.Query("SELECT name FROM vib3_models; SHOW MODELS"));
        Assert.Equal(['T', 'D', 'C', 'T', 'D', 'C', 'Z'], await ReadUntilReadyAsync(stream));
        await stream.WriteAsync(new byte[] { (byte)'X', 0, 0, 0, 4 });
        Assert.Empty(await ReadToCloseAsync(stream));
    }

    [Fact]
    public async Task An_oversized_message_length_is_refused_with_54000()
    {
        await using var stream = await ConnectAsync();
        await stream.WriteAsync(Startup(196608, ("user", "test")));
        await ReadUntilReadyAsync(stream);
        await stream.WriteAsync(new byte[] { (byte)'Q', 0x7F, 0, 0, 0 });
        var reply = await ReadToCloseAsync(stream);
        Assert.Equal((byte)'E', reply[0]);
        Assert.Contains("54000", Encoding.UTF8.GetString(reply));
    }
}
