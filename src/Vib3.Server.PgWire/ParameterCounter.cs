using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using Vib3.Query;

namespace Vib3.Server.PgWire;

/// <summary>How many parameters a parsed statement takes: the highest <c>$n</c> (<see cref="ParameterRef"/>) anywhere
/// in its syntax tree. The walk is generic (public properties of the AST records, lists, tuples), so new statement
/// kinds are covered without changes here. It keeps its own stack rather than recursing: the parser bounds expression
/// depth (<see cref="NestingLimit"/>), and an explicit stack visits every node of a tree that deep without depending on
/// the calling thread's stack size.</summary>
internal static class ParameterCounter
{
    public static int Highest(Statement statement)
    {
        var highest = 0;
        var pending = new Stack<object?>();
        pending.Push(statement);
        while (pending.TryPop(out var node))
        {
            switch (node)
            {
                case null or string or SourcePosition or Enum or IFormattable:
                    continue;
                case ParameterRef p:
                    highest = Math.Max(highest, p.Index);
                    continue;
                case ITuple tuple:
                    for (var i = 0; i < tuple.Length; i++) pending.Push(tuple[i]);
                    continue;
                case IEnumerable items:
                    foreach (var item in items) pending.Push(item);
                    continue;
            }
            var type = node.GetType();
            if (type.Assembly != typeof(Statement).Assembly) continue;
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                if (property.GetIndexParameters().Length == 0 && !property.PropertyType.IsPrimitive)
                    pending.Push(property.GetValue(node));
        }
        return highest;
    }
}
