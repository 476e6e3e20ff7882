using Antlr4.Runtime;
using Antlr4.Runtime.Tree;
using Vib3.Core;
using Vib3.Query.Grammar;

namespace Vib3.Query;

/// <summary>Parses vib3 query text (grammar/Vib3.g4) into <see cref="Statement"/>s.</summary>
public static class StatementParser
{
    /// <summary>
    /// Parses a script of statements separated by <c>;</c>. Empty statements are skipped, so
    /// empty or comment-only text gives an empty list.
    /// </summary>
    /// <exception cref="Vib3Exception">
    /// <see cref="SqlState.SyntaxError"/> on the first syntax error, as
    /// "syntax error at line L:C: ..." (line and column 1-based);
    /// <see cref="SqlState.InvalidParameterValue"/> for out-of-range numbers.
    /// </exception>
    public static IReadOnlyList<Statement> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);

        var lexer = new Vib3Lexer(CharStreams.fromString(text));
        lexer.RemoveErrorListeners(); // never let ANTLR write to the console
        lexer.AddErrorListener(ThrowingErrorListener.Instance);

        var tokens = new CommonTokenStream(lexer);
        var parser = new Vib3Parser(tokens);
        parser.RemoveErrorListeners();
        parser.AddErrorListener(ThrowingErrorListener.Instance);

        Vib3Parser.ScriptContext script = parser.script();

        Vib3Parser.StatementContext[] statements = script.statement();
        var result = new Statement[statements.Length];
        for (int i = 0; i < statements.Length; i++)
        {
            result[i] = Build(statements[i]);
        }
        return result;
    }

    private static Statement Build(Vib3Parser.StatementContext statement) => statement switch
    {
        Vib3Parser.ShowContext show => show.target.Type == Vib3Lexer.MODELS ? new ShowModels() : new ShowTiers(),
        Vib3Parser.DescribeContext describe => new Describe(Identifier(describe.identifier())),
        Vib3Parser.GenerateContext generate => BuildGenerate(generate),
        _ => throw new Vib3Exception(SqlState.InternalError, $"unhandled statement kind {statement.GetType().Name}"),
    };

    private static Generate BuildGenerate(Vib3Parser.GenerateContext generate)
    {
        string prompt = Unquote(generate.STRING().GetText(), '\'');

        RoutingMode routing = RoutingMode.Default;
        int? k = null;
        if (generate.routing() is { } clause)
        {
            if (clause.ROUTER() is not null)
            {
                routing = RoutingMode.Router;
            }
            else
            {
                routing = RoutingMode.Retrieval;
                k = PositiveInt(clause.INTEGER(), "k");
            }
        }

        int? maxTokens = generate.maxTokens() is { } limit ? PositiveInt(limit.INTEGER(), "MAX_TOKENS") : null;
        return new Generate(prompt, routing, k, maxTokens);
    }

    private static string Identifier(Vib3Parser.IdentifierContext identifier)
    {
        string text = identifier.GetText();
        return identifier.QUOTED_IDENTIFIER() is not null ? Unquote(text, '"') : text;
    }

    /// <summary>Strips the surrounding quotes and folds doubled quotes: 'it''s' → it's.</summary>
    private static string Unquote(string literal, char quote) =>
        literal[1..^1].Replace(new string(quote, 2), quote.ToString(), StringComparison.Ordinal);

    private static int PositiveInt(ITerminalNode node, string what)
    {
        IToken token = node.Symbol;
        if (!int.TryParse(token.Text, System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out int value) || value < 1)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"invalid {what} at line {token.Line}:{token.Column + 1}: must be between 1 and {int.MaxValue}, got {token.Text}");
        }
        return value;
    }
}
