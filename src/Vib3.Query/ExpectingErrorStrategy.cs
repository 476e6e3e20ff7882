using Antlr4.Runtime;
using Antlr4.Runtime.Misc;

namespace Vib3.Query;

/// <summary>
/// ANTLR's default strategy, plus a record of what optional clauses and loops could have
/// continued with at the current token. When a statement is followed by a word that fits
/// nowhere, ANTLR itself only reports what the enclosing rule expects (<c>';' or end of input</c>);
/// with this record <see cref="ThrowingErrorListener"/> also names the clauses that were skipped,
/// e.g. the remaining GENERATE options or ORDER BY / LIMIT.
/// </summary>
internal sealed class ExpectingErrorStrategy : DefaultErrorStrategy
{
    private int _tokenIndex = -1;
    private readonly IntervalSet _skipped = new();

    /// <summary>Tokens that would have continued an optional clause or loop exited at <paramref name="tokenIndex"/>.</summary>
    public IntervalSet SkippedAt(int tokenIndex) => tokenIndex == _tokenIndex ? _skipped : new IntervalSet();

    public override void Sync(Parser recognizer)
    {
        int index = recognizer.InputStream.Index;
        if (index != _tokenIndex)
        {
            _tokenIndex = index;
            _skipped.Clear();
        }
        IntervalSet next = recognizer.Atn.NextTokens(recognizer.Atn.states[recognizer.State]);
        if (next.Contains(TokenConstants.EPSILON))
        {
            foreach (int type in next.ToList())
            {
                if (type != TokenConstants.EPSILON)
                {
                    _skipped.Add(type);
                }
            }
        }
        base.Sync(recognizer);
    }
}
