using System.Text;
using Antlr4.Runtime;
using Antlr4.Runtime.Misc;
using Vib3.Core;
using Vib3.Query.Grammar;

namespace Vib3.Query;

/// <summary>
/// Turns the first lexer or parser error into a <see cref="Vib3Exception"/> with
/// <see cref="SqlState.SyntaxError"/>: "syntax error at line L:C: expected X or Y, near 'tok'".
/// Columns are 1-based. ANTLR's own wording is never shown.
/// </summary>
internal sealed class ThrowingErrorListener : IAntlrErrorListener<int>, IAntlrErrorListener<IToken>
{
    public static readonly ThrowingErrorListener Instance = new();

    private const int MaxNearLength = 40;

    // Lexer errors: a character no token can start with, or a token that never ends.
    public void SyntaxError(TextWriter output, IRecognizer recognizer, int offendingSymbol, int line,
        int charPositionInLine, string msg, RecognitionException e)
    {
        string text = "";
        if (recognizer is Lexer lexer && e is LexerNoViableAltException noViable)
        {
            ICharStream input = lexer.InputStream as ICharStream ?? throw new InvalidOperationException("lexer without char stream");
            int stop = Math.Min(input.Index, input.Size - 1);
            text = stop >= noViable.StartIndex ? input.GetText(Interval.Of(noViable.StartIndex, stop)) : "";
        }

        string what = text switch
        {
            _ when text.StartsWith('\'') => "unterminated string literal",
            _ when text.StartsWith('"') => "unterminated or empty quoted identifier",
            _ when text.StartsWith("/*", StringComparison.Ordinal) => "unterminated comment",
            _ => "unexpected character",
        };
        string near = text;
        if (what == "unexpected character" && text.Length > 0)
        {
            near = text[..(char.IsSurrogatePair(text, 0) ? 2 : 1)];
        }
        throw Error(line, charPositionInLine, $"{what}, near {Quote(near)}");
    }

    // Parser errors: the parser is still in the state where it failed, so its expected set is exact.
    public void SyntaxError(TextWriter output, IRecognizer recognizer, IToken offendingSymbol, int line,
        int charPositionInLine, string msg, RecognitionException e)
    {
        var parser = (Parser)recognizer;
        var expected = new IntervalSet(parser.GetExpectedTokens());
        if (parser.ErrorHandler is ExpectingErrorStrategy strategy)
        {
            expected.AddAll(strategy.SkippedAt(offendingSymbol.TokenIndex));
        }

        // At a statement boundary ANTLR only expects ';' or the end, because the optional
        // statement was already skipped; say what would start one instead.
        IToken? previous = PreviousVisible(parser.InputStream as ITokenStream, offendingSymbol);
        if ((previous is null || previous.Type == Vib3Lexer.SEMI) && expected.Contains(Vib3Lexer.SEMI))
        {
            expected = First(parser, Vib3Parser.RULE_statement);
            previous = null;
        }

        string near = offendingSymbol.Type == TokenConstants.EOF ? "end of input" : Quote(offendingSymbol.Text);
        string after = previous is null || previous.Type == Vib3Lexer.SEMI ? "" : " after " + Token(parser.Vocabulary, previous);
        throw Error(line, charPositionInLine, $"expected {Describe(parser, expected)}{after}, near {near}");
    }

    /// <summary>How a token that was read is named in "after X": keywords bare, the rest quoted.</summary>
    private static string Token(IVocabulary vocabulary, IToken token)
    {
        string? literal = vocabulary.GetLiteralName(token.Type);
        if (literal is not null && literal.Length > 2 && char.IsLetter(literal[1]))
        {
            return literal[1..^1];
        }
        return Quote(token.Text);
    }

    internal static Vib3Exception Error(int line, int charPositionInLine, string detail) =>
        new(SqlState.SyntaxError, $"syntax error at line {line}:{charPositionInLine + 1}: {detail}");

    private static IToken? PreviousVisible(ITokenStream? tokens, IToken token)
    {
        if (tokens is null)
        {
            return null;
        }
        for (int i = token.TokenIndex - 1; i >= 0; i--)
        {
            IToken candidate = tokens.Get(i);
            if (candidate.Channel == TokenConstants.DefaultChannel)
            {
                return candidate;
            }
        }
        return null;
    }

    private static IntervalSet First(Parser parser, int rule) =>
        parser.Atn.NextTokens(parser.Atn.ruleToStartState[rule]);

    // Groups of tokens that read better as one word: when every token that can start the rule is
    // expected, they are named by the label instead. Checked in this order.
    private static readonly (int Rule, string Label)[] Groups =
    [
        (Vib3Parser.RULE_expression, "expression"),
        (Vib3Parser.RULE_text, "a string ('...' / $$...$$ / $n)"),
        (Vib3Parser.RULE_stringLiteral, "a string ('...' / $$...$$)"),
        (Vib3Parser.RULE_modelName, "model name"),
        (Vib3Parser.RULE_number, "number"),
        (Vib3Parser.RULE_identifier, "identifier"),
    ];

    private static string Describe(Parser parser, IntervalSet expected)
    {
        var types = new List<int>(expected.ToList());
        var names = new List<string>();
        foreach ((int rule, string label) in Groups)
        {
            IntervalSet starts = First(parser, rule);
            List<int> startTypes = starts.ToList().Where(t => t >= 0).ToList();
            if (startTypes.Count > 0 && startTypes.All(types.Contains))
            {
                types.RemoveAll(startTypes.Contains);
                names.Add(label);
            }
        }
        if (types.Contains(Vib3Lexer.IDENTIFIER))
        {
            // Non-reserved keywords and quoted names are all just "identifier" to the user.
            IntervalSet identifierStarts = First(parser, Vib3Parser.RULE_identifier);
            types.RemoveAll(t => t != Vib3Lexer.IDENTIFIER && identifierStarts.Contains(t));
        }

        // "end of input" reads best last: "expected ';' or end of input".
        types = types.OrderBy(t => t == TokenConstants.EOF ? 1 : 0).ToList();
        names.InsertRange(names.Count, types.Select(t => Name(parser.Vocabulary, t)));
        names = names.Distinct().ToList();
        if (names.Count == 0)
        {
            return "nothing more";
        }
        if (names.Count == 1)
        {
            return names[0];
        }
        return string.Join(", ", names.Take(names.Count - 1)) + " or " + names[^1];
    }

    private static string Name(IVocabulary vocabulary, int type)
    {
        switch (type)
        {
            case TokenConstants.EOF: return "end of input";
            case Vib3Lexer.IDENTIFIER: return "identifier";
            case Vib3Lexer.QUOTED_IDENTIFIER: return "identifier";
            case Vib3Lexer.STRING: return "string literal";
            case Vib3Lexer.INTEGER: return "integer";
            case Vib3Lexer.DECIMAL: return "decimal";
            case Vib3Lexer.NEQ: return "'<>'";
            case Vib3Lexer.PARAMETER: return "$n parameter";
            case Vib3Parser.DOLLAR_STRING: return "$$...$$ string";
        }
        string? literal = vocabulary.GetLiteralName(type);
        if (literal is not null && literal.Length > 2 && char.IsLetter(literal[1]))
        {
            return literal[1..^1]; // keywords: SHOW, MAX_TOKENS
        }
        return literal ?? vocabulary.GetSymbolicName(type) ?? type.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static string Quote(string text)
    {
        var builder = new StringBuilder(text.Length + 2);
        builder.Append('\'');
        foreach (char c in text.Length > MaxNearLength ? text[..MaxNearLength] + "..." : text)
        {
            builder.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => c.ToString() });
        }
        return builder.Append('\'').ToString();
    }
}
