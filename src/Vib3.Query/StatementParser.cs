using System.Globalization;
using Antlr4.Runtime;
using Antlr4.Runtime.Tree;
using Vib3.Core;
using Vib3.Query.Grammar;
using P = Vib3.Query.Grammar.Vib3Parser;

namespace Vib3.Query;

/// <summary>Parses vib3 query text (grammar/Vib3.g4) into immutable <see cref="Statement"/> records.</summary>
public static class StatementParser
{
    private static readonly string[] ChatRoles = ["system", "user", "assistant", "tool"];

    /// <summary>
    /// Parses a script of statements separated by <c>;</c>. Empty statements are skipped, so
    /// empty or comment-only text gives an empty list.
    /// </summary>
    /// <remarks>Safe for untrusted text on any thread: nesting is bounded by <see cref="NestingLimit"/>, and text
    /// long enough to nest deeply is parsed on a thread whose stack holds that bound (<see cref="LargeStack"/>).</remarks>
    /// <exception cref="Vib3Exception">
    /// <see cref="SqlState.SyntaxError"/> on the first syntax error (including a repeated option),
    /// as "syntax error at line L:C: ..." (line and column 1-based);
    /// <see cref="SqlState.InvalidParameterValue"/> for out-of-range numbers, unknown
    /// CREATE MODEL options and unknown chat roles;
    /// <see cref="SqlState.StatementTooComplex"/> for expressions nested deeper than
    /// <see cref="NestingLimit.MaxExpressionDepth"/>.
    /// </exception>
    public static IReadOnlyList<Statement> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= InlineMaxChars ? ParseOnThisThread(text) : LargeStack.Run(() => ParseOnThisThread(text));
    }

    /// <summary>
    /// Texts up to this many characters are parsed on the caller's thread: every nesting level takes at least one
    /// character, and parsing measured under 3 KiB of stack per level (cold, unoptimised code), so this many fit in
    /// any thread's spare stack. Longer texts pay for starting a thread (well under a millisecond) to be safe.
    /// </summary>
    private const int InlineMaxChars = 64;

    private static IReadOnlyList<Statement> ParseOnThisThread(string text)
    {
        RequireWellFormed(text);
        var lexer = new Vib3Lexer(CharStreams.fromString(text));
        lexer.RemoveErrorListeners(); // never let ANTLR write to the console
        lexer.AddErrorListener(ThrowingErrorListener.Instance);

        var tokens = new CommonTokenStream(lexer);
        var parser = new NestingLimitedParser(tokens);
        parser.ErrorHandler = new ExpectingErrorStrategy();
        parser.RemoveErrorListeners();
        parser.AddErrorListener(ThrowingErrorListener.Instance);

        P.ScriptContext script = parser.script();

        P.StatementContext[] statements = script.statement();
        var result = new Statement[statements.Length];
        for (int i = 0; i < statements.Length; i++)
        {
            result[i] = Build(statements[i]);
        }
        return result;
    }

    /// <summary>
    /// A syntax error at a lone UTF-16 surrogate, which ANTLR's input (code points) would reject with an
    /// ArgumentException. Text decoded from UTF-8 never has one; a string built by a caller may.
    /// </summary>
    private static void RequireWellFormed(string text)
    {
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            return;
        }
        int line = 1, column = 0; // as ANTLR counts: lines by '\n', columns in code points
        for (int i = 0; i < text.Length; i++, column++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw ThrowingErrorListener.Error(line, column, $"unexpected character, near U+{(int)c:X4} (a lone surrogate)");
            }
            else if (c == '\n')
            {
                (line, column) = (line + 1, -1);
            }
        }
    }

    private static Statement Build(P.StatementContext statement)
    {
        Statement built = statement switch
        {
            P.ShowContext c => c.showTarget() switch
            {
                P.ShowModelsContext => new ShowModels(),
                P.ShowTiersContext t => new ShowTiers(t.BY() is not null),
                P.ShowExpertsContext t => new ShowExperts(
                    t.from is null ? null : ModelName(t.from),
                    t.layer is null ? null : (int)Integer(t.layer, "LAYER", 0, int.MaxValue)),
                P.ShowAllContext => new ShowAll(),
                P.ShowVariableContext t => new ShowVariable(Identifier(t.identifier())),
                var t => throw new Vib3Exception(SqlState.InternalError, $"unhandled SHOW kind {t.GetType().Name}"),
            },
            P.DescribeContext c => new Describe(ModelName(c.modelName())),
            P.GenerateContext c => BuildGeneration(c.generateStatement()),
            P.ExplainContext c => new Explain(c.ANALYZE() is not null, BuildGeneration(c.generateStatement())),
            P.CreateContext c => c.createTarget() switch
            {
                P.CreateModelContext t => BuildCreateModel(t),
                P.CreateIndexContext t => BuildCreateIndex(t),
                var t => throw new Vib3Exception(SqlState.InternalError, $"unhandled CREATE kind {t.GetType().Name}"),
            },
            P.DropContext c => c.dropTarget() switch
            {
                P.DropModelContext t => new DropModel(ModelName(t.modelName()), t.EXISTS() is not null),
                P.DropIndexContext t => new DropIndex(ModelName(t.modelName()), t.EXISTS() is not null),
                var t => throw new Vib3Exception(SqlState.InternalError, $"unhandled DROP kind {t.GetType().Name}"),
            },
            P.UseModelContext c => new UseModel(ModelName(c.modelName())),
            P.SetContext c => new SetVariable(Identifier(c.identifier()), SettingValue(c.settingValue())),
            P.ResetContext c => c.ALL() is not null ? new ResetAll() : new ResetVariable(Identifier(c.identifier())),
            P.SelectContext c => BuildSelect(c),
            _ => throw new Vib3Exception(SqlState.InternalError, $"unhandled statement kind {statement.GetType().Name}"),
        };
        return built with { Position = Position(statement.Start) };
    }

    private static GenerationStatement BuildGeneration(P.GenerateStatementContext context)
    {
        GenerateOptions options = Options(context.generateOption());
        GenerationStatement built = context.prompt is not null
            ? new Generate(Text(context.prompt), options)
            : new GenerateChat(new ValueList<ChatMessage>(context.chatMessage().Select(ChatMessage)), options);
        return built with { Position = Position(context.Start) };
    }

    private static ChatMessage ChatMessage(P.ChatMessageContext context)
    {
        Expression role = Text(context.role);
        if (role is StringLiteral literal)
        {
            string? known = ChatRoles.FirstOrDefault(r => string.Equals(r, literal.Value, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                throw Invalid(context.role.Start,
                    $"invalid chat role at line {Where(context.role.Start)}: expected system, user, assistant or tool, got {ThrowingErrorListener.Quote(literal.Value)}");
            }
            role = literal with { Value = known };
        }
        return new ChatMessage(role, Text(context.content)) { Position = Position(context.Start) };
    }

    private static GenerateOptions Options(P.GenerateOptionContext[] options)
    {
        var result = GenerateOptions.None;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (P.GenerateOptionContext option in options)
        {
            // USING ROUTER and USING RETRIEVAL are one option: routing.
            string name = option.Start.Text.ToUpperInvariant();
            if (option is P.FromModelOptionContext)
            {
                name = "FROM MODEL";
            }
            if (!seen.Add(name))
            {
                throw ThrowingErrorListener.Error(option.Start.Line, option.Start.Column,
                    $"option {name} specified more than once, near {ThrowingErrorListener.Quote(option.Start.Text)}");
            }

            result = option switch
            {
                P.FromModelOptionContext c => result with { Model = ModelName(c.modelName()) },
                P.UsingOptionContext c when c.ROUTER() is not null => result with { Routing = RoutingMode.Router },
                P.UsingOptionContext c => Retrieval(result, c.retrievalSetting()),
                P.MaxTokensOptionContext c => result with { MaxTokens = (int)Integer(c.INTEGER().Symbol, "MAX_TOKENS", 1, int.MaxValue) },
                P.TemperatureOptionContext c => result with { Temperature = Number(c.number(), "TEMPERATURE", 0m, decimal.MaxValue, false) },
                P.TopPOptionContext c => result with { TopP = Number(c.number(), "TOP_P", 0m, 1m, true) },
                P.TopKOptionContext c => result with { TopK = (int)Integer(c.INTEGER().Symbol, "TOP_K", 1, int.MaxValue) },
                P.MinPOptionContext c => result with { MinP = Number(c.number(), "MIN_P", 0m, 1m, false) },
                P.RepeatPenaltyOptionContext c => result with { RepeatPenalty = Number(c.number(), "REPEAT_PENALTY", 0m, decimal.MaxValue, true) },
                P.IgnoreEosOptionContext => result with { IgnoreEos = true },
                P.SeedOptionContext c => result with { Seed = Integer(c.INTEGER().Symbol, "SEED", 0, long.MaxValue) },
                P.StopOptionContext c => result with { Stop = new ValueList<Expression>(c.text().Select(Text)) },
                P.StreamOptionContext => result with { Stream = true },
                _ => throw new Vib3Exception(SqlState.InternalError, $"unhandled option {option.GetType().Name}"),
            };
        }
        return result;
    }

    /// <summary>USING RETRIEVAL's settings, each at most once: k, ef and experts whole numbers of at least 1, prior at
    /// least 0, mass in (0, 1), budget in (0, 1]. mass or budget make it router-first, which ef, experts and prior (the key-only
    /// ranking's) do not apply to.</summary>
    private static GenerateOptions Retrieval(GenerateOptions result, IEnumerable<P.RetrievalSettingContext> settings)
    {
        result = result with { Routing = RoutingMode.Retrieval };
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var s in settings)
        {
            var name = s.name.Text.ToLowerInvariant();
            if (!seen.Add(name)) throw Invalid(s.name, $"invalid {name} at line {Where(s.name)}: USING RETRIEVAL sets it twice");
            int Whole() => s.value.INTEGER() is { } i
                ? (int)Integer(i.Symbol, name, 1, int.MaxValue)
                : throw Invalid(s.value.Start, $"invalid {name} at line {Where(s.value.Start)}: must be a whole number, got {s.value.GetText()}");
            result = name switch
            {
                "k" => result with { K = Whole() },
                "ef" => result with { Ef = Whole() },
                "experts" => result with { Experts = Whole() },
                "prior" => result with { Prior = Number(s.value, "prior", 0m, 1000m, false) },
                "mass" => result with { Mass = Number(s.value, "mass", 0m, 0.9999m, true) },
                _ => result with { Budget = Number(s.value, "budget", 0m, 1m, true) },
            };
        }
        if (result.Mass is not null || result.Budget is not null)
            foreach (var s in settings)
                if (s.name.Text.ToLowerInvariant() is var keyOnly && keyOnly is "ef" or "experts" or "prior")
                    throw Invalid(s.name, $"invalid {keyOnly} at line {Where(s.name)}: {keyOnly}= is for ranking pages by their page keys (k=N); " +
                                          "with mass= or budget= the router picks the experts and neuron keys the pages inside them");
        return result;
    }

    private static CreateModel BuildCreateModel(P.CreateModelContext context)
    {
        string? dtype = null, index = null, tokenizerFallback = null;
        int? pageRows = null;
        foreach (var (key, option, keyToken, valueToken) in DistinctOptions(context.modelOption()))
        {
            if (key.Matches("dtype"))
            {
                dtype = option.stringLiteral() is { } s
                    ? StringValue(s)
                    : throw Invalid(valueToken, $"invalid dtype at line {Where(valueToken)}: expected a string such as 'f16', got {valueToken.Text}");
            }
            else if (key.Matches("page_rows"))
            {
                pageRows = PositiveInteger(option, "page_rows");
            }
            else if (key.Matches("index"))
            {
                index = OneOf(option, KeyKinds, "index");
            }
            else if (key.Matches("tokenizer_fallback"))
            {
                tokenizerFallback = OneOf(option, TokenizerFallbacks, "tokenizer_fallback");
            }
            else
            {
                throw Invalid(keyToken,
                    $"unknown CREATE MODEL option {ThrowingErrorListener.Quote(key.Name)} at line {Where(keyToken)}: expected dtype, page_rows, index or tokenizer_fallback");
            }
        }
        return new CreateModel(ModelName(context.modelName()), StringValue(context.stringLiteral()), dtype, pageRows, index, tokenizerFallback);
    }

    private static readonly string[] KeyKinds = ["mean_gate", "svd_gate", "gate_up"];
    private static readonly string[] TokenizerFallbacks = ["gpt2"];
    private static readonly string[] Metrics = ["ip", "cosine"];
    private static readonly string[] NeuronKeyTypes = [.. Vib3.Models.Retrieval.NeuronKeySpec.All.Select(k => k.Name), "none"];

    private static CreateIndex BuildCreateIndex(P.CreateIndexContext context)
    {
        string? keys = null, metric = null, neuronKeys = null, calibration = null;
        int? m = null, efConstruction = null, calibrationTokens = null;
        foreach (var (key, option, keyToken, valueToken) in DistinctOptions(context.modelOption()))
        {
            if (key.Matches("keys"))
            {
                keys = OneOf(option, KeyKinds, "keys");
            }
            else if (key.Matches("metric"))
            {
                metric = OneOf(option, Metrics, "metric");
            }
            else if (key.Matches("m"))
            {
                m = PositiveInteger(option, "m");
            }
            else if (key.Matches("ef_construction"))
            {
                efConstruction = PositiveInteger(option, "ef_construction");
            }
            else if (key.Matches("neuron_keys"))
            {
                neuronKeys = OneOf(option, NeuronKeyTypes, "neuron_keys");
            }
            else if (key.Matches("calibration"))
            {
                calibration = option.stringLiteral() is { } s && StringValue(s) is { Length: > 0 } path
                    ? path
                    : throw Invalid(valueToken, $"calibration at line {Where(valueToken)} must be the path of a text file, in quotes");
            }
            else if (key.Matches("calibration_tokens"))
            {
                calibrationTokens = PositiveInteger(option, "calibration_tokens");
            }
            else
            {
                throw Invalid(keyToken,
                    $"unknown CREATE INDEX option {ThrowingErrorListener.Quote(key.Name)} at line {Where(keyToken)}: " +
                    "expected keys, metric, m, ef_construction, neuron_keys, calibration or calibration_tokens");
            }
        }
        if (calibration is null && calibrationTokens is not null)
            throw Invalid(context.Start, $"calibration_tokens needs calibration = 'text file' (the text the retrieval is calibrated on), at line {Where(context.Start)}");
        if (calibration is not null && neuronKeys == "none")
            throw Invalid(context.Start, $"calibration measures router-first retrieval, which needs neuron keys: drop neuron_keys = 'none' (at line {Where(context.Start)})");
        return new CreateIndex(ModelName(context.modelName()), keys, metric, m, efConstruction, neuronKeys, calibration, calibrationTokens);
    }

    /// <summary>The WITH (name = value, ...) options in order, each name at most once (a repeat is an error at its position).</summary>
    private static IEnumerable<(Identifier Key, P.ModelOptionContext Option, IToken KeyToken, IToken ValueToken)> DistinctOptions(
        IEnumerable<P.ModelOptionContext> options)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var option in options)
        {
            Identifier key = Identifier(option.identifier());
            IToken keyToken = option.identifier().Start;
            if (!seen.Add(key.Name))
                throw ThrowingErrorListener.Error(keyToken.Line, keyToken.Column,
                    $"option {key.Name} specified more than once, near {ThrowingErrorListener.Quote(keyToken.Text)}");
            yield return (key, option, keyToken, option.Stop);
        }
    }

    /// <summary>An option whose value must be a positive integer.</summary>
    private static int PositiveInteger(P.ModelOptionContext option, string what) =>
        option.number() is { } n && n.INTEGER() is { } integer
            ? (int)Integer(integer.Symbol, what, 1, int.MaxValue)
            : throw Invalid(option.Stop, $"invalid {what} at line {Where(option.Stop)}: expected a positive integer, got {option.Stop.Text}");

    /// <summary>A string option whose value must be one of <paramref name="allowed"/> (compared case-insensitively).</summary>
    private static string OneOf(P.ModelOptionContext option, string[] allowed, string what)
    {
        IToken valueToken = option.Stop;
        string? value = option.stringLiteral() is { } s ? StringValue(s) : null;
        string? known = value is null ? null : allowed.FirstOrDefault(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
        return known ?? throw Invalid(valueToken,
            $"invalid {what} at line {Where(valueToken)}: expected {string.Join(" or ", allowed.Select(a => $"'{a}'"))}, got {valueToken.Text}");
    }

    private static Select BuildSelect(P.SelectContext context)
    {
        var items = context.selectItem().Select(item => item switch
        {
            P.SelectStarContext => (SelectItem)new SelectStar() { Position = Position(item.Start) },
            P.SelectExpressionContext e => new SelectExpression(Expression(e.expression()), e.alias is null ? null : Identifier(e.alias))
            {
                Position = Position(item.Start),
            },
            _ => throw new Vib3Exception(SqlState.InternalError, $"unhandled select item {item.GetType().Name}"),
        });
        var orderBy = context.orderItem().Select(o => new OrderItem(Expression(o.expression()), o.DESC() is not null)
        {
            Position = Position(o.Start),
        });
        return new Select(
            new ValueList<SelectItem>(items),
            context.table is null ? null : Identifier(context.table),
            context.where is null ? null : Expression(context.where),
            new ValueList<OrderItem>(orderBy),
            context.limit is null ? null : Integer(context.limit, "LIMIT", 0, long.MaxValue));
    }

    private static Expression SettingValue(P.SettingValueContext context)
    {
        Expression value;
        if (context.stringLiteral() is { } s)
        {
            value = new StringLiteral(StringValue(s));
        }
        else if (context.number() is { } n)
        {
            value = NumberLiteral(n, context.MINUS() is not null);
        }
        else if (context.identifier() is { } id)
        {
            value = new StringLiteral(Identifier(id).Name); // SET x = word means SET x = 'word'
        }
        else
        {
            value = new BooleanLiteral(context.TRUE() is not null);
        }
        return value with { Position = Position(context.Start) };
    }

    private static Expression Expression(P.ExpressionContext context)
    {
        Expression built = context switch
        {
            P.PrimaryExpressionContext c => Primary(c.primary()),
            P.ComparisonContext c => new Comparison(c.op.Type switch
            {
                Vib3Lexer.EQ => ComparisonOperator.Equal,
                Vib3Lexer.NEQ => ComparisonOperator.NotEqual,
                Vib3Lexer.LT => ComparisonOperator.Less,
                Vib3Lexer.LTE => ComparisonOperator.LessOrEqual,
                Vib3Lexer.GT => ComparisonOperator.Greater,
                _ => ComparisonOperator.GreaterOrEqual,
            }, Expression(c.left), Expression(c.right)),
            P.LikeContext c => new Like(Expression(c.left), Expression(c.right), c.NOT() is not null),
            P.IsNullContext c => new IsNull(Expression(c.expression()), c.NOT() is not null),
            P.NotContext c => new Not(Expression(c.expression())),
            P.AndContext c => new And(Expression(c.left), Expression(c.right)),
            P.OrContext c => new Or(Expression(c.left), Expression(c.right)),
            _ => throw new Vib3Exception(SqlState.InternalError, $"unhandled expression {context.GetType().Name}"),
        };
        return built with { Position = Position(context.Start) };
    }

    private static Expression Primary(P.PrimaryContext context)
    {
        Expression built = context switch
        {
            P.StringPrimaryContext c => new StringLiteral(StringValue(c.stringLiteral())),
            P.NumberPrimaryContext c => NumberLiteral(c.number(), c.MINUS() is not null),
            P.TruePrimaryContext => new BooleanLiteral(true),
            P.FalsePrimaryContext => new BooleanLiteral(false),
            P.NullPrimaryContext => new NullLiteral(),
            P.ParameterPrimaryContext c => Parameter(c.PARAMETER().Symbol),
            P.ColumnOrCallContext c when c.call is not null => new FunctionCall(Identifier(c.identifier()),
                new ValueList<Expression>(c.expression().Select(Expression))),
            P.ColumnOrCallContext c => new ColumnRef(Identifier(c.identifier())),
            P.ParenthesizedContext c => Expression(c.expression()),
            _ => throw new Vib3Exception(SqlState.InternalError, $"unhandled primary {context.GetType().Name}"),
        };
        return built with { Position = Position(context.Start) };
    }

    private static Expression NumberLiteral(P.NumberContext context, bool negative)
    {
        IToken token = context.Start;
        if (context.INTEGER() is not null)
        {
            // Parsed with the sign so that long.MinValue fits.
            if (!long.TryParse((negative ? "-" : "") + token.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            {
                throw Invalid(token, $"integer out of range at line {Where(token)}: {token.Text}");
            }
            return new IntegerLiteral(value);
        }
        if (!decimal.TryParse(token.Text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal d))
        {
            throw Invalid(token, $"number out of range at line {Where(token)}: {token.Text}");
        }
        return new DecimalLiteral(negative ? -d : d);
    }

    private static Expression Text(P.TextContext context)
    {
        Expression built = context.stringLiteral() is { } s
            ? new StringLiteral(StringValue(s))
            : Parameter(context.PARAMETER().Symbol);
        return built with { Position = Position(context.Start) };
    }

    private static ParameterRef Parameter(IToken token)
    {
        if (!int.TryParse(token.Text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index < 1)
        {
            throw Invalid(token, $"invalid parameter at line {Where(token)}: must be between $1 and ${int.MaxValue}, got {token.Text}");
        }
        return new ParameterRef(index) { Position = Position(token) };
    }

    private static string StringValue(P.StringLiteralContext context)
    {
        string text = context.Start.Text;
        if (context.STRING() is not null)
        {
            return Unquote(text, '\'');
        }
        int delimiter = text.IndexOf('$', 1) + 1; // "$tag$" length
        return text[delimiter..^delimiter];
    }

    /// <summary>A model name: one identifier as it is (quoted or not), or the text of a run of adjacent tokens
    /// (vib3-moe, mixtral-8x7b, qwen1.5-moe), unquoted.</summary>
    private static Identifier ModelName(P.ModelNameContext name) =>
        name.ChildCount == 1 && name.namePiece(0).identifier() is { } one
            ? Identifier(one)
            : new Identifier(name.GetText(), false) { Position = Position(name.Start) };

    private static Identifier Identifier(P.IdentifierContext identifier)
    {
        string text = identifier.GetText();
        bool quoted = identifier.QUOTED_IDENTIFIER() is not null;
        return new Identifier(quoted ? Unquote(text, '"') : text, quoted) { Position = Position(identifier.Start) };
    }

    /// <summary>Strips the surrounding quotes and folds doubled quotes: 'it''s' → it's.</summary>
    private static string Unquote(string literal, char quote) =>
        literal[1..^1].Replace(new string(quote, 2), quote.ToString(), StringComparison.Ordinal);

    private static long Integer(IToken token, string what, long min, long max)
    {
        if (!long.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value < min || value > max)
        {
            throw Invalid(token, $"invalid {what} at line {Where(token)}: must be between {min} and {max}, got {token.Text}");
        }
        return value;
    }

    /// <summary>A number in [min, max], or in (min, max] when <paramref name="exclusiveMin"/>.</summary>
    private static decimal Number(P.NumberContext context, string what, decimal min, decimal max, bool exclusiveMin)
    {
        IToken token = context.Start;
        if (!decimal.TryParse(token.Text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value)
            || value < min || value > max || (exclusiveMin && value == min))
        {
            string range = max == decimal.MaxValue ? (exclusiveMin ? $"greater than {min}" : $"at least {min}") : $"between {min} {(exclusiveMin ? "(exclusive)" : "")} and {max}".Replace("  ", " ", StringComparison.Ordinal);
            throw Invalid(token, $"invalid {what} at line {Where(token)}: must be {range}, got {token.Text}");
        }
        return value;
    }

    private static Vib3Exception Invalid(IToken token, string message) => new(SqlState.InvalidParameterValue, message);

    private static string Where(IToken token) => $"{token.Line}:{token.Column + 1}";

    private static SourcePosition Position(IToken token) => new(token.Line, token.Column + 1);
}
