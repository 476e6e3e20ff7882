using System.Globalization;
using System.Text;
using Vib3.Query.Execution;
using Vib3.Server.PgWire.Protocol.Backend;

namespace Vib3.Server.PgWire;

/// <summary>How vib3 column types appear on the wire: Postgres type OIDs and typlen, and the text format of values.</summary>
internal static class PgTypes
{
    public const int Bool = 16;
    public const int Int8 = 20;
    public const int Text = 25;
    public const int Float8 = 701;

    public static FieldDescription Field(ColumnDef column) => column.Type switch
    {
        ColumnType.Text => new(column.Name, Text, -1),
        ColumnType.Int64 => new(column.Name, Int8, 8),
        ColumnType.Float64 => new(column.Name, Float8, 8),
        ColumnType.Bool => new(column.Name, Bool, 1),
        _ => new(column.Name, Text, -1),
    };

    /// <summary>The value in Postgres text format as UTF-8; null stays null (sent as length -1).</summary>
    public static byte[]? EncodeText(object? value) => value switch
    {
        null => null,
        string s => Encoding.UTF8.GetBytes(s),
        bool b => b ? "t"u8.ToArray() : "f"u8.ToArray(),
        double d => Encoding.ASCII.GetBytes(FormatDouble(d)),
        float f => Encoding.ASCII.GetBytes(FormatDouble(f)),
        IFormattable x => Encoding.UTF8.GetBytes(x.ToString(null, CultureInfo.InvariantCulture)),
        _ => Encoding.UTF8.GetBytes(value.ToString() ?? ""),
    };

    /// <summary>Shortest text that parses back to the same double, with Postgres's spellings of the special values.</summary>
    private static string FormatDouble(double d) => d switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "Infinity",
        double.NegativeInfinity => "-Infinity",
        _ => d.ToString("R", CultureInfo.InvariantCulture),
    };
}
