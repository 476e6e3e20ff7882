using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using Vib3.Query;

namespace Vib3.Server.PgWire;

/// <summary>How many parameters a parsed statement takes: the highest <c>$n</c> (<see cref="ParameterRef"/>) anywhere
/// in its syntax tree. The walk is generic (public properties of the AST records, lists, tuples), so new statement
/// kinds are covered without changes here.</summary>
internal static class ParameterCounter
{
    private const int MaxDepth = 64;

    public static int Highest(Statement statement) => Walk(statement, 0);

    private static int Walk(object? node, int depth)
    {
        if (node is null || depth > MaxDepth) return 0;
        switch (node)
        {
            case ParameterRef p:
                return p.Index;
            case string or SourcePosition or Enum or IFormattable:
                return 0;
            case ITuple tuple:
            {
                var max = 0;
                for (var i = 0; i < tuple.Length; i++) max = Math.Max(max, Walk(tuple[i], depth + 1));
                return max;
            }
            case IEnumerable items:
            {
                var max = 0;
                foreach (var item in items) max = Math.Max(max, Walk(item, depth + 1));
                return max;
            }
        }
        var type = node.GetType();
        if (type.Assembly != typeof(Statement).Assembly) return 0;
        var highest = 0;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0 || property.PropertyType.IsPrimitive) continue;
            highest = Math.Max(highest, Walk(property.GetValue(node), depth + 1));
        }
        return highest;
    }
}
