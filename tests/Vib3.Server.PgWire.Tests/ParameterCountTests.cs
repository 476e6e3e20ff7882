using System.Buffers.Binary;
using System.Text;
using Vib3.Query;
using static Vib3.Server.PgWire.Tests.RawPg;

namespace Vib3.Server.PgWire.Tests;

/// <summary>A Parse that declares no parameter types: the server counts the $n in the statement itself and says so in
/// ParameterDescription, however deep the $n sits (up to the parser's nesting limit).</summary>
public sealed class ParameterCountTests(PgServerFixture server) : IClassFixture<PgServerFixture>
{
    [Theory]
    [InlineData(1)]
    [InlineData(100)] // deeper than the counter's old depth cap of 64, which missed both parameters
    [InlineData(NestingLimit.MaxExpressionDepth - 2)] // with the comparison around it: at the limit
    public async Task A_parameter_nested_deep_is_counted(int depth)
    {
        var sql = "SELECT " + string.Concat(Enumerable.Repeat("NOT ", depth)) + "$2 = $1";
        using var client = await LoginAsync(server.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Parse(sql));
        await stream.WriteAsync(Frame('D', [(byte)'S', 0])); // Describe the unnamed statement
        await stream.WriteAsync(Sync());

        var (parsed, _) = await ReadMessageAsync(stream);
        Assert.Equal('1', parsed); // ParseComplete
        var (type, body) = await ReadMessageAsync(stream);
        Assert.True(type == 't', $"expected ParameterDescription, got '{type}': {Encoding.UTF8.GetString(body)}");
        Assert.Equal(2, BinaryPrimitives.ReadInt16BigEndian(body));
        await ReadUntilReadyAsync(stream);
    }
}
