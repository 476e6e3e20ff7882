using System.Text;
using Vib3.Query.Execution;

namespace Vib3.Server.PgWire.Tests;

/// <summary>Text-format values, column types, and error positions, without a socket.</summary>
public sealed class EncodingTests
{
    private static string? Text(object? v) => PgTypes.EncodeText(v) is { } b ? Encoding.UTF8.GetString(b) : null;

    [Fact]
    public void Values_use_postgres_text_format()
    {
        Assert.Equal("t", Text(true));
        Assert.Equal("f", Text(false));
        Assert.Null(Text(null));
        Assert.Equal("-42", Text(-42L));
        Assert.Equal("0.1", Text(0.1));
        Assert.Equal(0.1 + 0.2, double.Parse(Text(0.1 + 0.2)!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("NaN", Text(double.NaN));
        Assert.Equal("-Infinity", Text(double.NegativeInfinity));
        Assert.Equal("héllo", Text("héllo"));
        Assert.Equal("", Text(""));
    }

    [Theory]
    [InlineData(ColumnType.Text, 25, -1)]
    [InlineData(ColumnType.Int64, 20, 8)]
    [InlineData(ColumnType.Float64, 701, 8)]
    [InlineData(ColumnType.Bool, 16, 1)]
    public void Column_types_map_to_postgres_oids(ColumnType type, int oid, short typlen)
    {
        var f = PgTypes.Field(new ColumnDef("c", type));
        Assert.Equal((oid, typlen, -1, (short)0, 0, (short)0), (f.TypeOid, f.TypeSize, f.TypeModifier, f.Format, f.TableOid, f.ColumnAttributeNumber));
    }

    [Fact]
    public void Error_positions_count_characters_from_one()
    {
        Assert.Equal(1, PgConnection.PositionOf("SELEKT 1", "syntax error at line 1:1: expected ..."));
        Assert.Equal(13, PgConnection.PositionOf("SHOW x;\nUSE m", "oops (at line 2:5)"));
        Assert.Null(PgConnection.PositionOf("SELECT 1", "no position here"));
    }
}
