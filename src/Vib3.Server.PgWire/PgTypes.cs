using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Vib3.Core;
using Vib3.Query.Execution;
using Vib3.Server.PgWire.Protocol.Backend;

namespace Vib3.Server.PgWire;

/// <summary>How vib3 column types appear on the wire: Postgres type OIDs and typlen, and the text format of values.</summary>
internal static class PgTypes
{
    public const int Unspecified = 0;
    public const int Bool = 16;
    public const int Int8 = 20;
    public const int Int2 = 21;
    public const int Int4 = 23;
    public const int Text = 25;
    public const int Float4 = 700;
    public const int Float8 = 701;
    public const int Varchar = 1043;

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

    /// <summary>The value in Postgres binary format for the column type <paramref name="typeOid"/>: int8 8 bytes and
    /// int4 4 bytes big-endian, float8/float4 IEEE big-endian, bool 1 byte, text UTF-8; null stays null.</summary>
    public static byte[]? EncodeBinary(object? value, int typeOid)
    {
        if (value is null) return null;
        var inv = CultureInfo.InvariantCulture;
        switch (typeOid)
        {
            case Int8:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteInt64BigEndian(b, System.Convert.ToInt64(value, inv));
                return b;
            }
            case Int4:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteInt32BigEndian(b, System.Convert.ToInt32(value, inv));
                return b;
            }
            case Float8:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteDoubleBigEndian(b, System.Convert.ToDouble(value, inv));
                return b;
            }
            case Float4:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteSingleBigEndian(b, System.Convert.ToSingle(value, inv));
                return b;
            }
            case Bool:
                return [System.Convert.ToBoolean(value, inv) ? (byte)1 : (byte)0];
            default: // text and anything sent as text: its binary form is its UTF-8 text form
                return EncodeText(value);
        }
    }

    /// <summary>A Bind parameter as the engine takes it: null for SQL NULL; binary values decoded by the type the
    /// client declared (int2/int4/int8 → long, float4/float8 → double, bool, text/varchar/unspecified → UTF-8 string);
    /// text values parsed by the declared numeric/bool type, else kept as the string.</summary>
    public static object? DecodeParameter(byte[]? value, short format, int typeOid, int index)
    {
        if (value is null) return null;
        var n = index + 1;
        if (format == 1)
        {
            return (typeOid, value.Length) switch
            {
                (Int8, 8) => BinaryPrimitives.ReadInt64BigEndian(value),
                (Int4, 4) => (long)BinaryPrimitives.ReadInt32BigEndian(value),
                (Int2, 2) => (long)BinaryPrimitives.ReadInt16BigEndian(value),
                (Float8, 8) => BinaryPrimitives.ReadDoubleBigEndian(value),
                (Float4, 4) => (double)BinaryPrimitives.ReadSingleBigEndian(value),
                (Bool, 1) => value[0] != 0,
                (Text or Varchar or Unspecified, _) => Utf8(value, n),
                (Int8 or Int4 or Int2 or Float8 or Float4 or Bool, _) => throw new Vib3Exception(PgSqlState.InvalidBinaryRepresentation,
                    $"incorrect binary data format in bind parameter {n}"),
                _ => throw new Vib3Exception(SqlState.FeatureNotSupported,
                    $"binary format for parameter {n} of type oid {typeOid} is not supported"),
            };
        }
        if (format != 0) throw new Vib3Exception(PgSqlState.ProtocolViolation, $"unsupported format code: {format}");
        var text = Utf8(value, n);
        var inv = CultureInfo.InvariantCulture;
        return typeOid switch
        {
            Int8 or Int4 or Int2 => long.TryParse(text.Trim(), NumberStyles.Integer, inv, out var l) ? l
                : throw new Vib3Exception(PgSqlState.InvalidTextRepresentation, $"invalid input syntax for type integer: \"{text}\""),
            Float8 or Float4 => ParseDouble(text.Trim()) ?? throw new Vib3Exception(PgSqlState.InvalidTextRepresentation,
                $"invalid input syntax for type double precision: \"{text}\""),
            Bool => text.Trim().ToLowerInvariant() switch
            {
                "t" or "true" or "yes" or "y" or "on" or "1" => true,
                "f" or "false" or "no" or "n" or "off" or "0" => false,
                _ => throw new Vib3Exception(PgSqlState.InvalidTextRepresentation, $"invalid input syntax for type boolean: \"{text}\""),
            },
            _ => text,
        };
    }

    private static double? ParseDouble(string text) => text.ToLowerInvariant() switch
    {
        "nan" => double.NaN,
        "infinity" or "+infinity" or "inf" => double.PositiveInfinity,
        "-infinity" or "-inf" => double.NegativeInfinity,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null,
    };

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string Utf8(byte[] bytes, int n)
    {
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException)
        {
            throw new Vib3Exception(PgSqlState.CharacterNotInRepertoire, $"invalid byte sequence for encoding \"UTF8\" in parameter {n}");
        }
    }
}
