using System.Globalization;
using Vib3.Core;

namespace Vib3.Query.Execution;

/// <summary>Value helpers shared by the evaluator: normalization, type names, SQL comparison.</summary>
internal static class Values
{
    public const string DatatypeMismatch = "42804";

    /// <summary>Postgres's name of a type, for messages; null (not yet known) is "unknown".</summary>
    public static string TypeName(ColumnType? type) => type switch
    {
        ColumnType.Text => "text",
        ColumnType.Int64 => "bigint",
        ColumnType.Float64 => "double precision",
        ColumnType.Bool => "boolean",
        _ => "unknown",
    };

    public static bool IsNumeric(ColumnType? type) => type is ColumnType.Int64 or ColumnType.Float64;

    /// <summary>The type of a normalized value; null for null.</summary>
    public static ColumnType? TypeOf(object? value) => value switch
    {
        null => null,
        string => ColumnType.Text,
        long => ColumnType.Int64,
        double => ColumnType.Float64,
        bool => ColumnType.Bool,
        _ => throw new Vib3Exception(SqlState.InternalError, $"unsupported value type {value.GetType().Name}"),
    };

    /// <summary>
    /// Converts a CLR value to one of string, long, double, bool (or null); false when it has no SQL type here.
    /// </summary>
    public static bool TryNormalize(object? value, out object? normalized)
    {
        normalized = value switch
        {
            null or DBNull => null,
            string or long or double or bool => value,
            int i => (long)i,
            short s => (long)s,
            sbyte sb => (long)sb,
            byte b => (long)b,
            ushort us => (long)us,
            uint ui => (long)ui,
            float f => (double)f,
            decimal d => (double)d,
            char c => c.ToString(),
            _ => value,
        };
        return normalized is null or string or long or double or bool;
    }

    /// <summary>
    /// Compares two non-null values of comparable types: numbers (long and double mixed), text (ordinal),
    /// booleans (false &lt; true). NaN equals NaN and sorts above every other number, as in Postgres.
    /// </summary>
    public static int Compare(object left, object right, SourcePosition position, string operation)
    {
        switch (left, right)
        {
            case (long a, long b):
                return a.CompareTo(b);
            case (string a, string b):
                return string.CompareOrdinal(a, b) switch { < 0 => -1, > 0 => 1, _ => 0 };
            case (bool a, bool b):
                return a.CompareTo(b);
            case (long or double, long or double):
                return CompareDoubles(Convert.ToDouble(left, CultureInfo.InvariantCulture), Convert.ToDouble(right, CultureInfo.InvariantCulture));
            default:
                throw Mismatch(TypeOf(left), TypeOf(right), position, operation);
        }
    }

    /// <summary>Whether values of these types may be compared; an unknown (null) type compares with anything.</summary>
    public static bool Comparable(ColumnType? left, ColumnType? right) =>
        left is null || right is null || left == right || (IsNumeric(left) && IsNumeric(right));

    public static Vib3Exception Mismatch(ColumnType? left, ColumnType? right, SourcePosition position, string operation) =>
        new(DatatypeMismatch, $"cannot compare {TypeName(left)} with {TypeName(right)} (operator {operation}) at line {position}");

    private static int CompareDoubles(double a, double b)
    {
        if (double.IsNaN(a))
        {
            return double.IsNaN(b) ? 0 : 1;
        }
        if (double.IsNaN(b))
        {
            return -1;
        }
        return a < b ? -1 : a > b ? 1 : 0; // -0.0 == 0.0
    }
}
