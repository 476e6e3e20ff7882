using System.Globalization;

namespace Vib3.Models.Tokenization;

/// <summary>Subscripts, slices, operators, methods, filters and tests. Whatever makes a new string or list counts
/// its size against the render's budget before allocating it, so no operand (a repeat count, a range, a
/// replacement) can make one operation take unbounded memory or time.</summary>
public sealed partial class JinjaTemplate
{
    /// <summary>The attribute= of sort, map, selectattr and rejectattr: "a.b.0" looks up a, then b, then item 0, as
    /// jinja2's attribute getter does.</summary>
    private static object? AttributePath(object? target, string path)
    {
        foreach (var part in path.Split('.')) target = GetItem(target, part, attribute: true);
        return target;
    }

    private static object? GetItem(object? target, object? key, bool attribute)
    {
        switch (target)
        {
            case Dictionary<string, object?> d:
                return key is string k && d.TryGetValue(k, out var v) ? v : Undefined.Instance;
            case LoopContext loop:
                return key is string name ? loop.Get(name) : Undefined.Instance;
            case List<object?> l when key is long or int || (attribute && key is string ks && long.TryParse(ks, NumberStyles.None, CultureInfo.InvariantCulture, out _)):
            {
                var i = key is string s ? long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture) : ToLong(key);
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : Undefined.Instance;
            }
            case string str when key is long:
            {
                var i = ToLong(key);
                if (i < 0) i += str.Length;
                return i >= 0 && i < str.Length ? str[(int)i].ToString() : Undefined.Instance;
            }
            default:
                return Undefined.Instance;
        }
    }

    private static object? DoSlice(object? target, object? start, object? stop, object? step, RenderBudget budget)
    {
        var st = step is null ? 1 : ToLong(step);
        if (st == 0) throw new JinjaException("slice step must not be zero");
        var n = target switch
        {
            List<object?> l => l.Count,
            string s => s.Length,
            _ => throw new JinjaException($"cannot slice {TypeName(target)}"),
        };
        long Norm(object? v, long dflt) { if (v is null) return dflt; var x = ToLong(v); if (x < 0) x += n; return x; }
        // Python's slice positions: the first one and how many, in 128 bits so a huge step cannot overflow
        long first;
        Int128 count;
        if (st > 0)
        {
            first = Math.Clamp(Norm(start, 0), 0, n);
            var end = Math.Clamp(Norm(stop, n), 0, n);
            count = end > first ? ((Int128)end - first - 1) / st + 1 : 0;
        }
        else
        {
            first = Math.Clamp(Norm(start, n - 1), -1, n - 1);
            var end = stop is null ? -1 : Math.Clamp(Norm(stop, -1), -1, n - 1);
            count = first > end ? ((Int128)first - end - 1) / -(Int128)st + 1 : 0;
        }
        var at = (int k) => (int)(first + (Int128)k * st);
        if (target is string str)
        {
            budget.Chars(count, "slice");
            return string.Create((int)count, (str, at), static (span, x) => { for (var k = 0; k < span.Length; k++) span[k] = x.str[x.at(k)]; });
        }
        budget.Entries(count, "slice");
        var items = (List<object?>)target!;
        var result = new List<object?>((int)count);
        for (var k = 0; k < (int)count; k++) result.Add(items[at(k)]);
        return result;
    }

    /// <summary>Positional argument <paramref name="i"/> of <paramref name="what"/>, which needs it.</summary>
    private static object? Arg(List<object?> args, int i, string what) =>
        i < args.Count ? args[i] : throw new JinjaException($"{what} needs at least {i + 1} argument(s), got {args.Count}");

    private static object? CallMethod(object? target, string name, List<object?> args, RenderBudget budget)
    {
        if (target is string s)
        {
            string? chars = args.Count > 0 && args[0] is string c0 ? c0 : null;
            switch (name)
            {
                case "startswith" or "endswith":
                {
                    var starts = name == "startswith";
                    bool Test(string p) => starts ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal);
                    var arg = Arg(args, 0, name);
                    return arg is List<object?> ps ? ps.Any(p => Test(Str(p, budget))) : Test(Str(arg, budget));
                }
                case "find": return (long)s.IndexOf(Str(Arg(args, 0, name), budget), StringComparison.Ordinal);
                case "count":
                {
                    var sub = Str(Arg(args, 0, name), budget);
                    return sub.Length == 0 ? s.Length + 1L : Occurrences(s, sub);
                }
                case "split":
                {
                    if (chars is { Length: 0 }) throw new JinjaException("split() separator must not be empty");
                    var parts = chars is null ? Words(s) : Occurrences(s, chars) + 1;
                    budget.Entries(parts, "split()");
                    budget.Chars(s.Length, "split()");
                    return (chars is null ? s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) : s.Split(chars)).Select(x => (object?)x).ToList();
                }
                case "replace": return Replace(s, Arg(args, 0, name), Arg(args, 1, name), budget);
            }
            // the rest make one string no longer than s
            budget.Chars(s.Length, name + "()");
            return name switch
            {
                "strip" => chars is null ? s.Trim() : s.Trim(chars.ToCharArray()),
                "lstrip" => chars is null ? s.TrimStart() : s.TrimStart(chars.ToCharArray()),
                "rstrip" => chars is null ? s.TrimEnd() : s.TrimEnd(chars.ToCharArray()),
                "upper" => s.ToUpperInvariant(),
                "lower" => s.ToLowerInvariant(),
                "title" => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(s.ToLowerInvariant()),
                "capitalize" => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
                _ => throw new JinjaException($"string method '{name}' is not supported"),
            };
        }
        if (target is List<object?> list)
            return name switch
            {
                // plain Jinja2 (and llama.cpp's minja) allow these; transformers' immutable sandbox would refuse them,
                // but templates shipped for llama.cpp (Kimi K2's tool-call id queue) rely on them
                "append" => Append(list, args, budget),
                "pop" => Pop(list, args),
                _ => throw new JinjaException($"list method '{name}' is not supported"),
            };
        if (target is Dictionary<string, object?> d)
        {
            switch (name)
            {
                case "get": return d.TryGetValue(Str(Arg(args, 0, name), budget), out var v) ? v : args.Count > 1 ? args[1] : null;
                case "items":
                    budget.Entries(3L * d.Count, "items()"); // the list and a pair per entry
                    return d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList();
                case "keys": return Keys(d, budget);
                case "values":
                    budget.Entries(d.Count, "values()");
                    return d.Values.ToList();
                default: throw new JinjaException($"dict method '{name}' is not supported");
            }
        }
        throw new JinjaException($"method '{name}' of {TypeName(target)} is not supported");
    }

    private static object? Append(List<object?> list, List<object?> args, RenderBudget budget)
    {
        if (args.Count != 1) throw new JinjaException($"append() takes exactly one argument ({args.Count} given)");
        budget.Entries(1, "append()");
        list.Add(args[0]);
        return null;
    }

    private static object? Pop(List<object?> list, List<object?> args)
    {
        var i = args.Count > 0 ? ToLong(args[0]) : -1;
        if (i < 0) i += list.Count;
        if (i < 0 || i >= list.Count) throw new JinjaException(list.Count == 0 ? "pop from empty list" : "pop index out of range");
        var item = list[(int)i];
        list.RemoveAt((int)i);
        return item;
    }

    /// <summary>str.replace, sized before it is built: a short old text and a long new one multiply.</summary>
    private static string Replace(string s, object? oldValue, object? newValue, RenderBudget budget)
    {
        var (from, to) = (Str(oldValue, budget), Str(newValue, budget));
        if (from.Length == 0) throw new JinjaException("replace() of an empty string is not supported");
        budget.Chars(s.Length + (Int128)Occurrences(s, from) * (to.Length - from.Length), "replace()");
        return s.Replace(from, to, StringComparison.Ordinal);
    }

    /// <summary>Non-overlapping occurrences of a non-empty <paramref name="sub"/>, as str.count.</summary>
    private static long Occurrences(string s, string sub)
    {
        long n = 0;
        for (var i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>How many parts str.split() without a separator makes: runs of non-whitespace.</summary>
    private static long Words(string s)
    {
        long n = 0;
        for (var i = 0; i < s.Length; i++)
            if (!char.IsWhiteSpace(s[i]) && (i == 0 || char.IsWhiteSpace(s[i - 1]))) n++;
        return n;
    }

    private static List<object?> Keys(Dictionary<string, object?> d, RenderBudget budget)
    {
        budget.Entries(d.Count, "keys");
        return d.Keys.Cast<object?>().ToList();
    }

    private static List<object?> Characters(string s, RenderBudget budget)
    {
        budget.Entries(s.Length, "list of characters");
        budget.Chars(s.Length, "list of characters");
        return s.Select(c => (object?)c.ToString()).ToList();
    }

    private static object? ApplyFilter(object? v, string name, List<object?> args, Dictionary<string, object?> kwargs, RenderBudget budget)
    {
        switch (name)
        {
            case "length" or "count": return (long)Length(v);
            case "trim": return CallMethod(Str(v, budget), "strip", [], budget);
            case "upper" or "lower" or "capitalize" or "title": return CallMethod(Str(v, budget), name, [], budget);
            case "string": return Str(v, budget);
            case "safe": return v;
            case "int": return v is string s ? (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0L) : ToLong(v);
            case "float": return ToDouble(v);
            case "abs":
                return v switch
                {
                    long.MinValue => throw new JinjaException("abs() of the smallest 64-bit integer overflows"),
                    long l => Math.Abs(l),
                    _ => Math.Abs(ToDouble(v)),
                };
            case "first": return v is List<object?> { Count: > 0 } f ? f[0] : v is string { Length: > 0 } fs ? fs[0].ToString() : Undefined.Instance;
            case "last": return v is List<object?> { Count: > 0 } la ? la[^1] : v is string { Length: > 0 } ls ? ls[^1].ToString() : Undefined.Instance;
            case "list":
                switch (v)
                {
                    case List<object?> li: return li;
                    case string st: return Characters(st, budget);
                    case Dictionary<string, object?> dk: return Keys(dk, budget);
                    default: return new List<object?>();
                }
            case "reverse":
                switch (v)
                {
                    case string rs:
                        budget.Chars(rs.Length, "reverse");
                        return new string(rs.Reverse().ToArray());
                    case List<object?> rl:
                        budget.Entries(rl.Count, "reverse");
                        return Enumerable.Reverse(rl).ToList();
                    default: throw new JinjaException("reverse needs a list or string");
                }
            case "sort":
            {
                if (v is not List<object?> items) throw new JinjaException("sort needs a list");
                budget.Entries(items.Count, "sort");
                var reverse = Truthy(args.Count > 0 ? args[0] : kwargs.GetValueOrDefault("reverse"));
                var caseSensitive = Truthy(args.Count > 1 ? args[1] : kwargs.GetValueOrDefault("case_sensitive"));
                var attribute = args.Count > 2 ? args[2] : kwargs.GetValueOrDefault("attribute");
                object? Key(object? x)
                {
                    var k = attribute is null ? x : AttributePath(x, Str(attribute, budget));
                    return !caseSensitive && k is string ks ? ks.ToLowerInvariant() : k;
                }
                // Python's sort is stable either way, as OrderBy and OrderByDescending are.
                var keyed = items.Select(x => (Key: Key(x), Item: x)).ToList();
                SortOrder.CheckComparable(keyed.Select(x => x.Key).ToList()); // checked first: LINQ would wrap the comparer's error
                var sorted = reverse ? keyed.OrderByDescending(x => x.Key, SortOrder.Instance) : keyed.OrderBy(x => x.Key, SortOrder.Instance);
                return sorted.Select(x => x.Item).ToList();
            }
            case "join":
            {
                var sep = args.Count > 0 ? Str(args[0], budget) : "";
                if (v is not List<object?> jl) return Str(v, budget);
                var parts = jl.Select(x => Str(x, budget)).ToList();
                budget.Chars((Int128)parts.Sum(p => (long)p.Length) + (Int128)sep.Length * Math.Max(0, parts.Count - 1), "join");
                return string.Join(sep, parts);
            }
            case "default" or "d":
                var boolean = (args.Count > 1 && Truthy(args[1])) || (kwargs.TryGetValue("boolean", out var bo) && Truthy(bo));
                return v is Undefined || (boolean && !Truthy(v)) ? (args.Count > 0 ? args[0] : "") : v;
            case "replace": return Replace(Str(v, budget), Arg(args, 0, name), Arg(args, 1, name), budget);
            case "items": return v is Dictionary<string, object?> d ? CallMethod(d, "items", [], budget) : new List<object?>();
            case "tojson":
                var indent = args.Count > 0 ? args[0] : kwargs.GetValueOrDefault("indent");
                return ToJson(v, indent is long i && i > 0, kwargs.GetValueOrDefault("separators"), budget);
            case "selectattr" or "rejectattr":
            {
                if (v is not List<object?> items) return new List<object?>();
                var attr = Str(Arg(args, 0, name), budget);
                var keep = name == "selectattr";
                budget.Entries(items.Count, name);
                return items.Where(it =>
                {
                    var a = AttributePath(it, attr);
                    var ok = args.Count > 1 ? ApplyTest(a, Str(args[1], budget), args.Skip(2).ToList(), budget) : Truthy(a);
                    return ok == keep;
                }).ToList();
            }
            case "map":
            {
                if (v is not List<object?> items) return new List<object?>();
                budget.Entries(items.Count, name);
                if (kwargs.TryGetValue("attribute", out var at)) return items.Select(it => AttributePath(it, Str(at, budget))).ToList();
                if (args.Count > 0) return items.Select(it => ApplyFilter(it, Str(args[0], budget), args.Skip(1).ToList(), [], budget)).ToList();
                return items;
            }
            default: throw new JinjaException($"filter '{name}' is not supported");
        }
    }

    private static bool ApplyTest(object? v, string name, List<object?> args, RenderBudget budget) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v is null,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "mapping" => v is Dictionary<string, object?>,
        "sequence" or "iterable" => v is List<object?> or string or Dictionary<string, object?>,
        "callable" => v is Function,
        "even" => ToLong(v) % 2 == 0,
        "odd" => ToLong(v) % 2 != 0,
        "divisibleby" => ToLong(Arg(args, 0, name)) is var by && by != 0
            ? by == -1 || ToLong(v) % by == 0
            : throw new JinjaException("divisibleby(0): division by zero"),
        "eq" or "equalto" or "==" => ValueEquals(v, Arg(args, 0, name), budget),
        "ne" or "!=" => !ValueEquals(v, Arg(args, 0, name), budget),
        "in" => Contains(Arg(args, 0, name), v, budget),
        _ => throw new JinjaException($"test '{name}' is not supported"),
    };

    private static object? BinaryOp(string op, object? a, object? b, RenderBudget budget)
    {
        switch (op)
        {
            case "==": return ValueEquals(a, b, budget);
            case "!=": return !ValueEquals(a, b, budget);
            case "in": return Contains(b, a, budget);
            case "~": return Concat(Str(a, budget), Str(b, budget), budget);
            case "<" or ">" or "<=" or ">=":
            {
                var c = a is string sa && b is string sb ? string.CompareOrdinal(sa, sb) : ToDouble(a).CompareTo(ToDouble(b));
                return op switch { "<" => c < 0, ">" => c > 0, "<=" => c <= 0, _ => c >= 0 };
            }
            case "+":
                if (a is string s1 && b is string s2) return Concat(s1, s2, budget);
                if (a is List<object?> l1 && b is List<object?> l2)
                {
                    budget.Entries((long)l1.Count + l2.Count, "list concatenation");
                    return l1.Concat(l2).ToList();
                }
                if (a is long x && b is long y) return x + y;
                if (IsNumber(a) && IsNumber(b)) return ToDouble(a) + ToDouble(b);
                throw new JinjaException($"cannot add {TypeName(a)} and {TypeName(b)}");
            case "-" or "*" or "%" or "//" or "/":
                if (op == "*" && a is string rep && b is long times) return Repeat(rep, times, budget);
                if (!IsNumber(a) || !IsNumber(b)) throw new JinjaException($"unsupported operand types for {op}: {TypeName(a)} and {TypeName(b)}");
                if (op == "/") return ToDouble(a) / ToDouble(b);
                if (a is long i && b is long j)
                    return op switch
                    {
                        "-" => i - j,
                        "*" => i * j,
                        "%" => j == 0 ? throw new JinjaException("modulo by zero") : j == -1 ? 0L : ((i % j) + j) % j,
                        _ => j == 0 ? throw new JinjaException("division by zero") : (long)Math.Floor((double)i / j),
                    };
                var (da, db) = (ToDouble(a), ToDouble(b));
                return op switch { "-" => da - db, "*" => da * db, "%" => da - db * Math.Floor(da / db), _ => Math.Floor(da / db) };
            default: throw new JinjaException($"operator '{op}' is not supported");
        }
    }

    private static string Concat(string a, string b, RenderBudget budget)
    {
        budget.Chars((long)a.Length + b.Length, "concatenation");
        return a + b;
    }

    private static string Repeat(string s, long times, RenderBudget budget)
    {
        if (times <= 0 || s.Length == 0) return "";
        budget.Chars((Int128)s.Length * times, "string repeat");
        return string.Create(checked(s.Length * (int)times), s, static (span, x) =>
        {
            for (var at = 0; at < span.Length; at += x.Length) x.AsSpan().CopyTo(span[at..]);
        });
    }

    /// <summary>How Python orders the values sort compares: numbers (and booleans) by value, strings by code point;
    /// anything else, or a string against a number, cannot be ordered (Python's TypeError).</summary>
    private sealed class SortOrder : IComparer<object?>
    {
        public static readonly SortOrder Instance = new();

        public int Compare(object? a, object? b) => (a, b) switch
        {
            (string x, string y) => string.CompareOrdinal(x, y),
            (long x, long y) => x.CompareTo(y), // exact beyond 2^53, as Python's integers are
            _ => ToDouble(a).CompareTo(ToDouble(b)),
        };

        /// <summary>The keys are all strings or all numbers, else one line naming the two kinds that met (one key is
        /// never compared, so it may be anything).</summary>
        public static void CheckComparable(IReadOnlyCollection<object?> keys)
        {
            if (keys.Count < 2) return;
            object? first = null;
            var any = false;
            foreach (var k in keys)
            {
                if (!any) (first, any) = (k, true);
                var ok = (first, k) is (string, string) or (long or double or bool, long or double or bool);
                if (!ok) throw new JinjaException($"sort cannot order {TypeName(first)} and {TypeName(k)}");
            }
        }

        private static string TypeName(object? v) => v switch
        {
            null => "none",
            string => "a string",
            long or double or bool => "a number",
            List<object?> => "a list",
            Dictionary<string, object?> => "a mapping",
            _ => "a value",
        };
    }
}
