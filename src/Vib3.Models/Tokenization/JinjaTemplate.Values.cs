using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Vib3.Models.Tokenization;

/// <summary>Template values as Python sees them: truth, equality, membership, numbers, str(), repr() and tojson.
/// Lists may nest (even contain themselves, through append), so whatever walks into them counts a nesting level
/// per list or dict it enters, and whatever prints them counts the text it makes.</summary>
public sealed partial class JinjaTemplate
{
    private const string ValueNesting = "list or dict";

    private static bool Contains(object? container, object? item, RenderBudget budget) => container switch
    {
        string s => s.Contains(Str(item, budget), StringComparison.Ordinal),
        List<object?> l => l.Any(x => ValueEquals(x, item, budget)),
        Dictionary<string, object?> d => item is string k && d.ContainsKey(k),
        _ => false,
    };

    private static bool ValueEquals(object? a, object? b, RenderBudget budget)
    {
        if (a is Undefined) a = null;
        if (b is Undefined) b = null;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        if (a is List<object?> la && b is List<object?> lb)
        {
            if (la.Count != lb.Count) return false;
            budget.Depth.Enter(ValueNesting);
            var equal = la.Zip(lb).All(p => ValueEquals(p.First, p.Second, budget));
            budget.Depth.Leave();
            return equal;
        }
        return Equals(a, b);
    }

    private static bool IsNumber(object? v) => v is long or double;

    private static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    private static int Length(object? v) => v switch
    {
        string s => s.Length,
        List<object?> l => l.Count,
        Dictionary<string, object?> d => d.Count,
        Undefined or null => 0,
        _ => throw new JinjaException($"{TypeName(v)} has no length"),
    };

    private static long ToLong(object? v) => v switch
    {
        long l => l,
        double d => (long)d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaException($"expected a number, got {TypeName(v)}"),
    };

    private static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaException($"expected a number, got {TypeName(v)}"),
    };

    private static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined => "undefined",
        string => "string",
        long => "int",
        double => "float",
        bool => "bool",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        LoopContext => "LoopContext",
        _ => v.GetType().Name,
    };

    /// <summary>Python's str() of a value.</summary>
    private static string Str(object? v, RenderBudget budget) => v switch
    {
        null => "None",
        Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d == Math.Floor(d) && Math.Abs(d) < 1e16 ? d.ToString("0.0", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture),
        List<object?> l => Printed("[", l.Select(x => Repr(x, budget)), "]", budget),
        Dictionary<string, object?> d => Printed("{", d.Select(kv => Repr(kv.Key, budget) + ": " + Repr(kv.Value, budget)), "}", budget),
        _ => v.ToString() ?? "",
    };

    /// <summary>A list or dict printed: its items' reprs, one nesting level deeper, joined once their length is counted.</summary>
    private static string Printed(string open, IEnumerable<string> items, string close, RenderBudget budget)
    {
        budget.Depth.Enter(ValueNesting);
        var parts = items.ToList();
        budget.Depth.Leave();
        budget.Chars((Int128)parts.Sum(p => (long)p.Length) + 2 * Math.Max(0, parts.Count - 1) + 2, "printed " + ValueNesting);
        return open + string.Join(", ", parts) + close;
    }

    private static string Repr(object? v, RenderBudget budget)
    {
        if (v is not string s) return Str(v, budget);
        budget.Chars(2 * (Int128)s.Length + 2, "repr"); // at most every character escaped
        return "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
    }

    /// <summary>transformers' tojson: json.dumps(v, ensure_ascii=False, indent=..., separators=...). Each string
    /// is counted before it is written and the whole text before it is decoded; escaping can make the writer's
    /// buffer outgrow the count by at most one escaped string.</summary>
    private static string ToJson(object? v, bool indent, object? separators, RenderBudget budget)
    {
        var (item, key) = (", ", ": ");
        if (separators is List<object?> { Count: 2 } seps) (item, key) = (Str(seps[0], budget), Str(seps[1], budget));
        else if (separators is not (null or Undefined)) throw new JinjaException("tojson separators must be an (item, key) pair");
        using var ms = new MemoryStream();
        var options = new JsonWriterOptions
        {
            Indented = indent, MaxDepth = budget.MaxDepth + 1,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        try
        {
            using var w = new Utf8JsonWriter(ms, options);
            WriteJson(w, v, budget);
        }
        catch (ArgumentException e)
        {
            throw new JinjaException($"tojson: {e.Message}"); // text that is not valid UTF-16 (a lone surrogate)
        }
        budget.Chars(ms.Length, "tojson");
        var json = Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
        return indent ? json : JsonSpacing(json, item, key, budget);
    }

    private static void WriteJson(Utf8JsonWriter w, object? v, RenderBudget budget)
    {
        switch (v)
        {
            case null or Undefined: w.WriteNullValue(); break;
            case string s:
                budget.Chars(s.Length, "tojson");
                w.WriteStringValue(s);
                break;
            case bool b: w.WriteBooleanValue(b); break;
            case long l: w.WriteNumberValue(l); break;
            case double d: w.WriteNumberValue(d); break;
            case List<object?> list:
                budget.Depth.Enter(ValueNesting);
                w.WriteStartArray();
                foreach (var x in list) WriteJson(w, x, budget);
                w.WriteEndArray();
                budget.Depth.Leave();
                break;
            case Dictionary<string, object?> dict:
                budget.Depth.Enter(ValueNesting);
                w.WriteStartObject();
                foreach (var (k, x) in dict)
                {
                    budget.Chars(k.Length, "tojson");
                    w.WritePropertyName(k);
                    WriteJson(w, x, budget);
                }
                w.WriteEndObject();
                budget.Depth.Leave();
                break;
            default: w.WriteStringValue(v.ToString()); break;
        }
    }

    /// <summary>Compact JSON with Python's separators put in place of ',' and ':' outside strings; the separators
    /// come from the template, so the result is sized (one counting pass) before it is built.</summary>
    private static string JsonSpacing(string json, string item, string key, RenderBudget budget)
    {
        var (items, keys) = (0L, 0L);
        Walk(json, (c, _) => { if (c == ',') items++; else keys++; });
        budget.Chars(json.Length + items * (Int128)(item.Length - 1) + keys * (Int128)(key.Length - 1), "tojson");
        var sb = new StringBuilder(json.Length + 16);
        var last = 0;
        Walk(json, (c, at) =>
        {
            sb.Append(json, last, at - last).Append(c == ',' ? item : key);
            last = at + 1;
        });
        return sb.Append(json, last, json.Length - last).ToString();
    }

    /// <summary>Calls <paramref name="separator"/> for each ',' and ':' of compact JSON that is outside a string.</summary>
    private static void Walk(string json, Action<char, int> separator)
    {
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
            }
            else if (c == '"') inString = true;
            else if (c is ',' or ':') separator(c, i);
        }
    }
}
