using Antlr4.Runtime;

namespace Vib3.Query.Grammar;

/// <summary>The predicate of the grammar's modelName: an unquoted model name is a run of tokens with nothing between
/// them (vib3-moe lexes as vib3, '-', moe), so whitespace or a comment ends it.</summary>
public partial class Vib3Parser
{
    /// <summary>Whether the next token starts right after the previous one.</summary>
    protected bool Adjacent() => TokenStream.LT(-1) is IToken previous && TokenStream.LT(1) is IToken next && next.StartIndex == previous.StopIndex + 1;
}
