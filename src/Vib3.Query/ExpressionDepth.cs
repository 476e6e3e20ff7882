namespace Vib3.Query;

/// <summary>How many levels an expression tree has (a leaf is 1), counted without recursion: a tree can be as deep
/// as <see cref="NestingLimit.MaxExpressionDepth"/>, and callers use this to decide whether recursing over it needs
/// a larger stack than the current thread's.</summary>
internal static class ExpressionDepth
{
    public static int Of(Expression root)
    {
        ArgumentNullException.ThrowIfNull(root);
        int deepest = 0;
        var pending = new Stack<(Expression Node, int Depth)>();
        pending.Push((root, 1));
        while (pending.TryPop(out var item))
        {
            deepest = Math.Max(deepest, item.Depth);
            foreach (Expression child in Children(item.Node))
            {
                pending.Push((child, item.Depth + 1));
            }
        }
        return deepest;
    }

    /// <summary>The operands of every expression node that has any (a new such node must be listed here).</summary>
    private static IEnumerable<Expression> Children(Expression expression) => expression switch
    {
        Comparison c => [c.Left, c.Right],
        Like l => [l.Operand, l.Pattern],
        IsNull n => [n.Operand],
        Not n => [n.Operand],
        And a => [a.Left, a.Right],
        Or o => [o.Left, o.Right],
        FunctionCall f => f.Arguments,
        _ => [],
    };
}
