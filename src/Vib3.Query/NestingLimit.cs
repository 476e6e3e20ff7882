using Antlr4.Runtime;
using Vib3.Core;

namespace Vib3.Query;

/// <summary>
/// How deeply a statement's expressions may nest. Every level is one expression inside another: <c>NOT e</c>,
/// <c>(e)</c>, an argument of <c>f(e)</c>, an operand of <c>=</c>, <c>LIKE</c>, <c>IS NULL</c>, <c>AND</c>, <c>OR</c>;
/// a chain such as <c>a = 1 OR a = 2 OR ...</c> nests one level per operator, because it is a left-deep tree.
/// The parser enforces the limit while it reads (see <see cref="NestingLimitedParser"/>), so every later walk of
/// the tree (building the AST, binding, evaluating) recurses at most this deep.
/// </summary>
public static class NestingLimit
{
    /// <summary>
    /// The most expression levels a statement may have. No hand-written query comes near it; generated ones that do
    /// get <see cref="SqlState.StatementTooComplex"/> instead of exhausting the stack (PostgreSQL's max_stack_depth
    /// plays this part there, with the same SQLSTATE).
    /// </summary>
    public const int MaxExpressionDepth = 1000;

    /// <summary>54001 "statement too complex at line L:C: expressions nest deeper than N levels", L:C (1-based)
    /// being where the first level beyond the limit starts.</summary>
    internal static Vib3Exception Exceeded(IToken at) =>
        new(SqlState.StatementTooComplex,
            $"statement too complex at line {at.Line}:{at.Column + 1}: expressions nest deeper than {MaxExpressionDepth} levels");
}
