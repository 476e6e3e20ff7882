using Antlr4.Runtime;
using Antlr4.Runtime.Misc;

namespace Vib3.Query.Grammar;

/// <summary>
/// Dollar quoting, which ANTLR's lexer cannot express (the closing delimiter must repeat the
/// opening tag): <c>$$text$$</c> and <c>$tag$text$tag$</c> become one <see cref="Vib3Parser.DOLLAR_STRING"/>
/// token whose text includes both delimiters. A tag is a letter or '_' followed by letters,
/// digits or '_'; <c>$1</c> stays a parameter.
/// </summary>
public partial class Vib3Lexer
{
    public override IToken NextToken()
    {
        ICharStream input = (ICharStream)InputStream;
        if (input.LA(1) == '$' && OpeningDelimiterLength(input) is int length and > 0)
        {
            return DollarString(input, length);
        }
        return base.NextToken();
    }

    /// <summary>The length of the opening "$tag$" at the current position, or 0 if there is none.</summary>
    private static int OpeningDelimiterLength(ICharStream input)
    {
        int i = 2;
        int c = input.LA(i);
        if (c == '$')
        {
            return 2;
        }
        if (!(char.IsAsciiLetter((char)c) || c == '_') || c < 0)
        {
            return 0;
        }
        while (true)
        {
            c = input.LA(++i);
            if (c == '$')
            {
                return i;
            }
            if (c < 0 || !(char.IsAsciiLetterOrDigit((char)c) || c == '_'))
            {
                return 0;
            }
        }
    }

    private IToken DollarString(ICharStream input, int delimiterLength)
    {
        int start = input.Index;
        int line = Line;
        int column = Column;
        string delimiter = input.GetText(Interval.Of(start, start + delimiterLength - 1));

        int bodyStart = start + delimiterLength;
        int end = -1; // index of the first character of the closing delimiter
        for (int i = bodyStart; i + delimiterLength <= input.Size; i++)
        {
            if (input.GetText(Interval.Of(i, i + delimiterLength - 1)) == delimiter)
            {
                end = i;
                break;
            }
        }
        if (end < 0)
        {
            string rest = input.GetText(Interval.Of(start, input.Size - 1));
            throw Vib3.Query.ThrowingErrorListener.Error(line, column,
                $"unterminated dollar-quoted string, expected closing {delimiter}, near {Vib3.Query.ThrowingErrorListener.Quote(rest)}");
        }

        int stop = end + delimiterLength - 1;
        while (input.Index <= stop)
        {
            Interpreter.Consume(input); // keeps line and column in step
        }

        var token = (CommonToken)TokenFactory.Create(
            Tuple.Create((ITokenSource)this, input), Vib3Parser.DOLLAR_STRING, null, DefaultTokenChannel, start, stop, line, column);
        Token = token;
        return token;
    }
}
