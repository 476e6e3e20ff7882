using Antlr4.Runtime;
using Vib3.Query.Grammar;

namespace Vib3.Query;

/// <summary>
/// The generated parser, failing with 54001 (<see cref="NestingLimit.Exceeded"/>) as soon as the parse tree's
/// expressions nest deeper than <see cref="NestingLimit.MaxExpressionDepth"/>: before its own recursion, or the
/// tree it hands on, can get deeper.
/// </summary>
/// <remarks>
/// <c>expression</c> is the grammar's only recursive rule (<c>primary</c> recurses through it). ANTLR parses each
/// nested expression (NOT e, (e), f(e), a binary operator's right operand) with one call, opened by
/// <see cref="EnterRecursionRule"/> and closed by <see cref="UnrollRecursionContexts"/>; within a call, it builds a
/// chain of binary operators in a loop, each operator wrapping the tree so far in a new node
/// (<see cref="PushNewRecursionContext"/>), which makes the tree one level deeper without any recursion. So the
/// depth of the deepest expression at any moment is the number of open calls above the current one plus the
/// height of the current call's tree, and each open call's height is kept on a stack.
/// </remarks>
internal sealed class NestingLimitedParser(ITokenStream input) : Vib3Parser(input, TextWriter.Null, TextWriter.Null)
{
    /// <summary>For each open expression call, outermost first: the height of the tree it has built so far.</summary>
    private readonly Stack<int> _heights = new();

    public override void EnterRecursionRule(ParserRuleContext localctx, int state, int ruleIndex, int precedence)
    {
        // Checked before entering: the generated code unrolls only calls that were entered.
        if (_heights.Count + 1 > NestingLimit.MaxExpressionDepth)
        {
            throw NestingLimit.Exceeded(CurrentToken);
        }
        base.EnterRecursionRule(localctx, state, ruleIndex, precedence);
        _heights.Push(1);
    }

    public override void PushNewRecursionContext(ParserRuleContext localctx, int state, int ruleIndex)
    {
        int height = _heights.Pop() + 1;
        _heights.Push(height);
        if (_heights.Count - 1 + height > NestingLimit.MaxExpressionDepth)
        {
            throw NestingLimit.Exceeded(CurrentToken); // the operator that would nest too deep
        }
        base.PushNewRecursionContext(localctx, state, ruleIndex);
    }

    public override void UnrollRecursionContexts(ParserRuleContext parentctx)
    {
        base.UnrollRecursionContexts(parentctx);
        // The finished call is a subtree of its caller's current node (directly, or through a primary).
        int child = _heights.Pop();
        if (_heights.Count > 0)
        {
            _heights.Push(Math.Max(_heights.Pop(), child + 1));
        }
    }
}
