using System.Globalization;

namespace Vib3.Convert.Formats;

/// <summary>One GGUF metadata value: a scalar (boxed byte, sbyte, ushort, short, uint, int, float, bool, string,
/// ulong, long or double) or an array (a typed .NET array of those, or GgufValue[] for nested arrays).
/// The Get* helpers widen: any integer type reads as GetInt/GetUInt, any number as GetFloat.</summary>
public sealed class GgufValue
{
    public GgufValue(GgufValueType type, object value, GgufValueType elementType = default)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    public GgufValueType Type { get; }

    /// <summary>The element type when <see cref="IsArray"/>.</summary>
    public GgufValueType ElementType { get; }

    public object Value { get; }

    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>Elements of an array; 1 for a scalar.</summary>
    public int Count => Value is Array a ? a.Length : 1;

    public static bool IsInteger(GgufValueType t) => t is GgufValueType.UInt8 or GgufValueType.Int8 or
        GgufValueType.UInt16 or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32 or
        GgufValueType.UInt64 or GgufValueType.Int64;

    public static bool IsFloat(GgufValueType t) => t is GgufValueType.Float32 or GgufValueType.Float64;

    public string TypeName => IsArray ? $"array of {ElementType.ToString().ToLowerInvariant()}" : Type.ToString().ToLowerInvariant();

    public long GetInt() => Type switch
    {
        GgufValueType.UInt64 when (ulong)Value > long.MaxValue => throw Wrong("an int64"),
        GgufValueType.UInt64 => (long)(ulong)Value,
        _ when IsInteger(Type) => System.Convert.ToInt64(Value, CultureInfo.InvariantCulture),
        _ => throw Wrong("an integer"),
    };

    public ulong GetUInt() => IsInteger(Type) && (Type == GgufValueType.UInt64 || GetInt() >= 0)
        ? System.Convert.ToUInt64(Value, CultureInfo.InvariantCulture)
        : throw Wrong("a non-negative integer");

    public double GetFloat() => IsFloat(Type) || IsInteger(Type)
        ? System.Convert.ToDouble(Value, CultureInfo.InvariantCulture)
        : throw Wrong("a number");

    public bool GetBool() => Type == GgufValueType.Bool ? (bool)Value : throw Wrong("a bool");

    public string GetString() => Type == GgufValueType.String ? (string)Value : throw Wrong("a string");

    public string[] GetStringArray() => Value is string[] s ? s : throw Wrong("an array of strings");

    public float[] GetFloatArray() => IsArray && (IsFloat(ElementType) || IsInteger(ElementType))
        ? ((Array)Value).Cast<object>().Select(o => System.Convert.ToSingle(o, CultureInfo.InvariantCulture)).ToArray()
        : throw Wrong("an array of numbers");

    public long[] GetIntArray() => IsArray && IsInteger(ElementType)
        ? ElementType == GgufValueType.UInt64
            ? ((ulong[])Value).Select(u => u <= long.MaxValue ? (long)u : throw Wrong("an array of int64")).ToArray()
            : ((Array)Value).Cast<object>().Select(o => System.Convert.ToInt64(o, CultureInfo.InvariantCulture)).ToArray()
        : throw Wrong("an array of integers");

    private InvalidCastException Wrong(string expected) => new($"value is {TypeName}, not {expected}");

    public override string ToString()
    {
        if (!IsArray)
            return Value switch
            {
                string s => s,
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => Value.ToString() ?? "",
            };
        var a = (Array)Value;
        var shown = a.Cast<object>().Take(8).Select(o => o is GgufValue g ? g.ToString() : System.Convert.ToString(o, CultureInfo.InvariantCulture));
        return $"[{string.Join(", ", shown)}{(a.Length > 8 ? $", ... ({a.Length} items)" : "")}]";
    }
}
