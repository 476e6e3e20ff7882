using Vib3.Core;
using Vib3.Query;

namespace Vib3.Query.Tests;

public class StatementParserTests
{
    private static Statement One(string text) => Assert.Single(StatementParser.Parse(text));

    private static T One<T>(string text) where T : Statement => Assert.IsType<T>(One(text));

    private static Identifier Id(string name, bool quoted = false) => new(name, quoted);

    [Fact]
    public void ShowModelsAndTiers()
    {
        Assert.Equal([new ShowModels()], StatementParser.Parse("SHOW MODELS"));
        Assert.Equal([new ShowTiers()], StatementParser.Parse("SHOW TIERS;"));
        Assert.Equal([new ShowTiers(ByLayer: true)], StatementParser.Parse("show tiers by layer;"));
    }

    [Theory]
    [InlineData("show models")]
    [InlineData("Show Models")]
    [InlineData("sHoW mOdElS ;")]
    public void KeywordsAreCaseInsensitive(string text)
    {
        Assert.Equal([new ShowModels()], StatementParser.Parse(text));
    }

    [Fact]
    public void DescribeKeepsNamesAsWritten()
    {
        Assert.Equal(new Describe(Id("Llama3_8b")), One("describe Llama3_8b"));
        Assert.Equal(new Describe(Id("my \"odd\" model", quoted: true)), One("DESCRIBE \"my \"\"odd\"\" model\""));
        // Contextual keywords are still usable as names.
        Assert.Equal(new Describe(Id("models")), One("DESCRIBE models"));
        Assert.Equal(new Describe(Id("k")), One("DESCRIBE k"));
    }

    [Fact]
    public void IdentifiersCompareCaseInsensitivelyUnlessQuoted()
    {
        Identifier bare = One<Describe>("DESCRIBE MyModel").Name;
        Assert.Equal("MyModel", bare.Name);
        Assert.False(bare.Quoted);
        Assert.True(bare.Matches("mymodel"));
        Assert.True(bare.Matches("MYMODEL"));

        Identifier quoted = One<Describe>("DESCRIBE \"MyModel\"").Name;
        Assert.True(quoted.Quoted);
        Assert.True(quoted.Matches("MyModel"));
        Assert.False(quoted.Matches("mymodel"));
    }

    [Fact]
    public void GenerateVariants()
    {
        Assert.Equal(new Generate(new StringLiteral("hi"), GenerateOptions.None), One("GENERATE 'hi'"));
        Assert.Equal(RoutingMode.Router, One<Generate>("generate 'hi' using router").Options.Routing);

        GenerateOptions options = One<Generate>("GENERATE 'hi' USING RETRIEVAL k=4").Options;
        Assert.Equal((RoutingMode.Retrieval, 4, (int?)null), (options.Routing, options.K, options.Ef));

        options = One<Generate>("GENERATE 'hi' USING RETRIEVAL K = 4 EF = 64 MAX_TOKENS 128").Options;
        Assert.Equal((RoutingMode.Retrieval, 4, 64, 128), (options.Routing, options.K, options.Ef, options.MaxTokens));

        options = One<Generate>("GENERATE 'hi' USING RETRIEVAL k=12 experts=2 prior=0.5").Options;
        Assert.Equal((12, (int?)null, (int?)2, (decimal?)0.5m), (options.K!.Value, options.Ef, options.Experts, options.Prior));

        Assert.Equal(16, One<Generate>("GENERATE 'hi' max_tokens 16").Options.MaxTokens);
    }

    [Fact]
    public void GenerateAllOptions()
    {
        var generate = One<Generate>("""
            GENERATE 'hi' FROM MODEL qwen USING ROUTER MAX_TOKENS 64 TEMPERATURE 0.7 TOP_P 0.95 TOP_K 40
                MIN_P 0.05 SEED 42 STOP '\n', $$END$$, $2 STREAM
            """);
        var expected = new GenerateOptions
        {
            Model = Id("qwen"),
            Routing = RoutingMode.Router,
            MaxTokens = 64,
            Temperature = 0.7m,
            TopP = 0.95m,
            TopK = 40,
            MinP = 0.05m,
            Seed = 42,
            Stop = new Expression[] { new StringLiteral("\\n"), new StringLiteral("END"), new ParameterRef(2) },
            Stream = true,
        };
        Assert.Equal(new Generate(new StringLiteral("hi"), expected), generate);
    }

    [Fact]
    public void GenerateOptionsInAnyOrder()
    {
        var a = One<Generate>("GENERATE 'x' STREAM SEED 1 TEMPERATURE 1 USING RETRIEVAL k=2 FROM MODEL m MAX_TOKENS 3");
        var b = One<Generate>("GENERATE 'x' FROM MODEL m MAX_TOKENS 3 USING RETRIEVAL k=2 TEMPERATURE 1.0 SEED 1 STREAM");
        Assert.Equal(a, b);
        Assert.Equal(1m, a.Options.Temperature);
        Assert.True(a.Options.Stream);
    }

    [Theory]
    [InlineData("TEMPERATURE 0", "Temperature", 0)]
    [InlineData("TEMPERATURE 2.5", "Temperature", 2.5)]
    [InlineData("TOP_P 1", "TopP", 1)]
    [InlineData("TOP_P .5", "TopP", 0.5)]
    [InlineData("MIN_P 0", "MinP", 0)]
    [InlineData("MIN_P 1.0", "MinP", 1)]
    [InlineData("REPEAT_PENALTY 1.1", "RepeatPenalty", 1.1)]
    [InlineData("REPEAT_PENALTY 0.5", "RepeatPenalty", 0.5)]
    public void NumericOptionBounds(string option, string property, double value)
    {
        GenerateOptions options = One<Generate>("GENERATE 'x' " + option).Options;
        object? actual = typeof(GenerateOptions).GetProperty(property)!.GetValue(options);
        Assert.Equal((decimal)value, actual);
    }

    [Fact]
    public void IgnoreEos_is_a_flag_and_off_by_default()
    {
        Assert.True(One<Generate>("GENERATE 'x' IGNORE_EOS MAX_TOKENS 8").Options.IgnoreEos);
        Assert.False(One<Generate>("GENERATE 'x' MAX_TOKENS 8").Options.IgnoreEos);
    }

    [Fact]
    public void SeedAndTopK()
    {
        GenerateOptions options = One<Generate>("GENERATE 'x' SEED 0 TOP_K 1").Options;
        Assert.Equal(0L, options.Seed);
        Assert.Equal(1, options.TopK);
        Assert.Equal(long.MaxValue, One<Generate>("GENERATE 'x' SEED 9223372036854775807").Options.Seed);
    }

    [Fact]
    public void PromptsCanBeDollarQuotedOrParameters()
    {
        Assert.Equal(new StringLiteral("it's $1 -- not a comment"), One<Generate>("GENERATE $$it's $1 -- not a comment$$").Prompt);
        Assert.Equal(new StringLiteral("a $$ b"), One<Generate>("GENERATE $q$a $$ b$q$").Prompt);
        Assert.Equal(new StringLiteral("multi\nline;"), One<Generate>("GENERATE $Tag_1$multi\nline;$Tag_1$ MAX_TOKENS 2").Prompt);
        Assert.Equal(new StringLiteral(""), One<Generate>("GENERATE $$$$").Prompt);
        Assert.Equal(new ParameterRef(1), One<Generate>("GENERATE $1").Prompt);
        Assert.Equal(new ParameterRef(12), One<Generate>("GENERATE $12 STOP $3").Prompt);
    }

    [Fact]
    public void DollarQuotesTrackLinesForLaterTokens()
    {
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse("GENERATE $$a\nbc$$ BOGUS"));
        Assert.StartsWith("syntax error at line 2:6:", error.Message);
    }

    [Fact]
    public void StringLiteralsFoldDoubledQuotes()
    {
        Assert.Equal(new StringLiteral("it's 'quoted'"), One<Generate>("GENERATE 'it''s ''quoted'''").Prompt);
        Assert.Equal(new StringLiteral(""), One<Generate>("GENERATE ''").Prompt);
        // Keywords, comment markers, ';' and newlines inside a literal are just text.
        Assert.Equal(new StringLiteral("SHOW MODELS; -- no /* x */\nline2"), One<Generate>("GENERATE 'SHOW MODELS; -- no /* x */\nline2'").Prompt);
    }

    [Fact]
    public void GenerateChat()
    {
        var chat = One<GenerateChat>("""
            GENERATE CHAT (('system', 'be brief'), ('User', $$hi$$), ('assistant', 'hello'), ('tool', $1), ($2, $3))
                MAX_TOKENS 8 STREAM
            """);
        Assert.Equal(
            new ChatMessage[]
            {
                new(new StringLiteral("system"), new StringLiteral("be brief")),
                new(new StringLiteral("user"), new StringLiteral("hi")),
                new(new StringLiteral("assistant"), new StringLiteral("hello")),
                new(new StringLiteral("tool"), new ParameterRef(1)),
                new(new ParameterRef(2), new ParameterRef(3)),
            },
            chat.Messages);
        Assert.Equal(8, chat.Options.MaxTokens);
        Assert.True(chat.Options.Stream);
        Assert.Equal(new SourcePosition(1, 16), chat.Messages[0].Position);
        Assert.Equal(new SourcePosition(1, 17), chat.Messages[0].Role.Position);
    }

    [Fact]
    public void Explain()
    {
        Assert.Equal(new Explain(false, new Generate(new StringLiteral("x"), GenerateOptions.None)), One("EXPLAIN GENERATE 'x'"));
        var explain = One<Explain>("explain analyze generate chat (('user', 'x')) using router");
        Assert.True(explain.Analyze);
        var chat = Assert.IsType<GenerateChat>(explain.Statement);
        Assert.Equal(RoutingMode.Router, chat.Options.Routing);
        Assert.Equal(new SourcePosition(1, 17), chat.Position);
    }

    [Fact]
    public void CreateModel()
    {
        Assert.Equal(new CreateModel(Id("m"), "/models/m.gguf", null, null), One("CREATE MODEL m FROM '/models/m.gguf'"));
        Assert.Equal(new CreateModel(Id("M 2", true), "/x", "f16", 64),
            One("create model \"M 2\" from $$/x$$ with (dtype = 'f16', PAGE_ROWS = 64)"));
        Assert.Equal(new CreateModel(Id("m"), "p", "q8", null), One("CREATE MODEL m FROM 'p' WITH (dtype='q8')"));
        Assert.Equal(new CreateModel(Id("m"), "p", null, 32, "svd_gate"), One("CREATE MODEL m FROM 'p' WITH (page_rows = 32, index = 'svd_gate')"));
        Assert.Equal(new CreateModel(Id("m"), "p", null, null, null, "gpt2"), One("CREATE MODEL m FROM 'p' WITH (tokenizer_fallback = 'gpt2')"));
    }

    [Fact]
    public void CreateDropIndex()
    {
        Assert.Equal(new CreateIndex(Id("m"), null, null, null, null), One("CREATE INDEX ON MODEL m"));
        Assert.Equal(new CreateIndex(Id("m"), "svd_gate", "cosine", null, null),
            One("create index on model m with (KEYS = 'SVD_GATE', metric = 'cosine')"));
        Assert.Equal(new CreateIndex(Id("M 2", true), "mean_gate", "ip", 16, 200),
            One("CREATE INDEX ON MODEL \"M 2\" WITH (keys = 'mean_gate', metric = 'ip', m = 16, ef_construction = 200)"));
        Assert.Equal(new CreateIndex(Id("m"), null, null, null, null, Calibration: "/data/Text 1.txt.gz", CalibrationTokens: 2048),
            One("CREATE INDEX ON MODEL m WITH (calibration = '/data/Text 1.txt.gz', calibration_tokens = 2048)"));
        Assert.Equal(new DropIndex(Id("m"), false), One("DROP INDEX ON MODEL m"));
        Assert.Equal(new DropIndex(Id("m"), true), One("drop index if exists on model m"));
        // INDEX and ON stay usable as names.
        Assert.Equal(new UseModel(Id("index")), One("USE MODEL index"));
        Assert.Equal(new CreateIndex(Id("on"), null, null, null, null), One("CREATE INDEX ON MODEL on"));
    }

    [Fact]
    public void DropUseModel()
    {
        Assert.Equal(new DropModel(Id("m"), false), One("DROP MODEL m"));
        Assert.Equal(new DropModel(Id("m"), true), One("drop model if exists m"));
        Assert.Equal(new UseModel(Id("Qwen3")), One("USE MODEL Qwen3"));
    }

    /// <summary>Model names are read as `vib3 models` prints them, unquoted, wherever a model is named: a run of tokens
    /// with nothing between them; a space (or a comment) ends the name.</summary>
    [Fact]
    public void Model_names_with_hyphens_digits_and_dots_need_no_quotes()
    {
        Assert.Equal(new UseModel(Id("vib3-moe")), One("USE MODEL vib3-moe"));
        Assert.Equal(new UseModel(Id("vib3-moe")), One("USE MODEL vib3-moe -- the default model"));
        Assert.Equal(new UseModel(Id("8x7b")), One("use model 8x7b;"));
        Assert.Equal(new UseModel(Id("My-Model", true)), One("USE MODEL \"My-Model\""));
        var g = (GenerationStatement)One("GENERATE 'x' FROM MODEL mixtral-8x7b MAX_TOKENS 4");
        Assert.Equal(Id("mixtral-8x7b"), g.Options.Model);
        Assert.Equal(4, g.Options.MaxTokens);
        Assert.Equal(Id("qwen1.5-moe-a2.7b"), ((GenerationStatement)One("GENERATE 'x' FROM MODEL qwen1.5-moe-a2.7b")).Options.Model);
        Assert.Equal(Id("llama3.1-8b.q4_k"), ((GenerationStatement)One("GENERATE 'x' FROM MODEL llama3.1-8b.q4_k USING ROUTER")).Options.Model);
        Assert.Equal(new CreateIndex(Id("vib3-moe"), null, null, null, null), One("CREATE INDEX ON MODEL vib3-moe"));
        Assert.Equal(new DropIndex(Id("vib3-moe"), true), One("DROP INDEX IF EXISTS ON MODEL vib3-moe"));
        Assert.Equal(new DropModel(Id("vib3-moe"), false), One("DROP MODEL vib3-moe"));
        Assert.Equal(new ShowExperts(Id("vib3-moe"), 1), One("SHOW EXPERTS FROM vib3-moe LAYER 1"));
        Assert.Equal(new Describe(Id("vib3-moe")), One("DESCRIBE vib3-moe"));
        Assert.Equal(Id("vib3-moe"), ((CreateModel)One("CREATE MODEL vib3-moe FROM '/m'")).Name);
        var spaced = Assert.Throws<Vib3Exception>(() => StatementParser.Parse("USE MODEL vib3 -moe"));
        Assert.Equal(SqlState.SyntaxError, spaced.SqlState);
    }

    /// <summary>Every name the catalog accepts, written as vib3's hints write it, reads back as that name.</summary>
    [Theory]
    [InlineData("vib3-moe")]
    [InlineData("mixtral-8x7b")]
    [InlineData("qwen1.5-moe")]
    [InlineData("a_b.c-d")]
    [InlineData("8x7b")]
    [InlineData("1.5")]
    [InlineData("m")]
    [InlineData("a--b")]
    [InlineData("x-.5")]
    public void A_hinted_model_name_reads_back_as_itself(string name)
    {
        var use = (UseModel)One($"USE MODEL {ModelNames.ForStatement(name)}");
        Assert.Equal(name, use.Name.Name);
        var index = (CreateIndex)One($"CREATE INDEX ON MODEL {ModelNames.ForStatement(name)} WITH (m = 8)");
        Assert.Equal(name, index.Model.Name);
    }

    [Fact]
    public void ShowExperts()
    {
        Assert.Equal(new ShowExperts(null, null), One("SHOW EXPERTS"));
        Assert.Equal(new ShowExperts(Id("m"), null), One("SHOW EXPERTS FROM m"));
        Assert.Equal(new ShowExperts(null, 0), One("SHOW EXPERTS LAYER 0"));
        Assert.Equal(new ShowExperts(Id("m"), 12), One("show experts from m layer 12"));
    }

    [Fact]
    public void Settings()
    {
        Assert.Equal(new SetVariable(Id("work_mem"), new StringLiteral("64MB")), One("SET work_mem = '64MB'"));
        Assert.Equal(new SetVariable(Id("x"), new IntegerLiteral(5)), One("SET x TO 5"));
        Assert.Equal(new SetVariable(Id("x"), new IntegerLiteral(-5)), One("SET x = -5"));
        Assert.Equal(new SetVariable(Id("x"), new DecimalLiteral(0.25m)), One("SET x = 0.25"));
        Assert.Equal(new SetVariable(Id("x"), new StringLiteral("On")), One("SET x = On"));
        Assert.Equal(new SetVariable(Id("x"), new BooleanLiteral(true)), One("SET x = true"));
        Assert.Equal(new SetVariable(Id("x"), new BooleanLiteral(false)), One("SET x TO FALSE"));
        Assert.Equal(new ResetVariable(Id("x")), One("RESET x"));
        Assert.Equal(new ResetAll(), One("RESET ALL"));
        Assert.Equal(new ShowVariable(Id("work_mem")), One("SHOW work_mem"));
        Assert.Equal(new ShowVariable(Id("Seed")), One("SHOW Seed"));
        Assert.Equal(new ShowAll(), One("show all"));
    }

    [Fact]
    public void SelectStar()
    {
        Assert.Equal(new Select(new SelectItem[] { new SelectStar() }, Id("vib3_models"), null, ValueList<OrderItem>.Empty, null),
            One("SELECT * FROM vib3_models"));
    }

    [Fact]
    public void SelectFull()
    {
        var select = One<Select>("""
            SELECT name AS n, "Size", layer FROM vib3_experts
            WHERE layer >= 2 AND name LIKE 'q%' OR NOT hot
            ORDER BY layer DESC, name ASC, n
            LIMIT 10
            """);
        Expression name = new ColumnRef(Id("name")), layer = new ColumnRef(Id("layer"));
        Assert.Equal(
            new Select(
                new SelectItem[]
                {
                    new SelectExpression(name, Id("n")),
                    new SelectExpression(new ColumnRef(Id("Size", true)), null),
                    new SelectExpression(layer, null),
                },
                Id("vib3_experts"),
                new Or(
                    new And(
                        new Comparison(ComparisonOperator.GreaterOrEqual, layer, new IntegerLiteral(2)),
                        new Like(name, new StringLiteral("q%"), false)),
                    new Not(new ColumnRef(Id("hot")))),
                new OrderItem[] { new(layer, true), new(name, false), new(new ColumnRef(Id("n")), false) },
                10),
            select);
    }

    [Theory]
    [InlineData("a = 1", "Equal")]
    [InlineData("a <> 1", "NotEqual")]
    [InlineData("a != 1", "NotEqual")]
    [InlineData("a < 1", "Less")]
    [InlineData("a <= 1", "LessOrEqual")]
    [InlineData("a > 1", "Greater")]
    [InlineData("a >= 1", "GreaterOrEqual")]
    public void ComparisonOperators(string where, string op)
    {
        var select = One<Select>("SELECT * FROM t WHERE " + where);
        Assert.Equal(new Comparison(Enum.Parse<ComparisonOperator>(op), new ColumnRef(Id("a")), new IntegerLiteral(1)), select.Where);
    }

    [Fact]
    public void ExpressionPrecedenceAndForms()
    {
        static Expression Where(string text) => One<Select>("SELECT * FROM t WHERE " + text).Where!;
        Expression a = new ColumnRef(Id("a")), b = new ColumnRef(Id("b")), c = new ColumnRef(Id("c"));

        Assert.Equal(new Or(a, new And(b, c)), Where("a OR b AND c"));
        Assert.Equal(new And(new Or(a, b), c), Where("(a OR b) AND c"));
        Assert.Equal(new And(new Not(a), b), Where("NOT a AND b"));
        Assert.Equal(new Not(new Comparison(ComparisonOperator.Equal, a, b)), Where("NOT a = b"));
        Assert.Equal(new Like(a, new StringLiteral("x%"), true), Where("a NOT LIKE 'x%'"));
        Assert.Equal(new IsNull(a, false), Where("a IS NULL"));
        Assert.Equal(new Or(new IsNull(a, true), new IsNull(b, false)), Where("a IS NOT NULL OR b is null"));
        Assert.Equal(new Comparison(ComparisonOperator.Equal, a, new ParameterRef(1)), Where("a = $1"));
        Assert.Equal(new Comparison(ComparisonOperator.Equal, new NullLiteral(), new BooleanLiteral(true)), Where("NULL = TRUE"));
        Assert.Equal(new Comparison(ComparisonOperator.Less, new DecimalLiteral(-1.5m), new IntegerLiteral(-2)), Where("-1.5 < -2"));
        Assert.Equal(new Comparison(ComparisonOperator.Equal, a, new StringLiteral("it's")), Where("a = $$it's$$"));
        Assert.Equal(new BooleanLiteral(false), Where("((FALSE))"));
    }

    [Fact]
    public void SelectWithoutFromAndFunctionCalls()
    {
        Assert.Equal(
            new Select(new SelectItem[] { new SelectExpression(new FunctionCall(Id("version"), ValueList<Expression>.Empty), null) },
                null, null, ValueList<OrderItem>.Empty, null),
            One("SELECT version()"));
        var select = One<Select>("SELECT 1, lower(name, 'x') AS l FROM t LIMIT 0");
        Assert.Equal(0L, select.Limit);
        Assert.Equal(new SelectExpression(new IntegerLiteral(1), null), select.Items[0]);
        Assert.Equal(new SelectExpression(new FunctionCall(Id("lower"), new Expression[] { new ColumnRef(Id("name")), new StringLiteral("x") }), Id("l")),
            select.Items[1]);
    }

    [Fact]
    public void NodesCarryPositions()
    {
        var statements = StatementParser.Parse("SHOW MODELS;\n  SELECT a, * FROM t\n WHERE a = $1 ORDER BY a");
        Assert.Equal(new SourcePosition(1, 1), statements[0].Position);
        var select = Assert.IsType<Select>(statements[1]);
        Assert.Equal(new SourcePosition(2, 3), select.Position);
        Assert.Equal(new SourcePosition(2, 10), select.Items[0].Position);
        Assert.Equal(new SourcePosition(2, 13), select.Items[1].Position);
        Assert.Equal(new SourcePosition(2, 20), select.From!.Position);
        var where = Assert.IsType<Comparison>(select.Where);
        Assert.Equal(new SourcePosition(3, 8), where.Position);
        Assert.Equal(new SourcePosition(3, 8), where.Left.Position);
        Assert.Equal(new SourcePosition(3, 12), where.Right.Position);
        Assert.Equal(new SourcePosition(3, 24), select.OrderBy[0].Position);

        var generate = One<Generate>("GENERATE\t'x' FROM MODEL m STOP 'a', $2");
        Assert.Equal(new SourcePosition(1, 10), generate.Prompt.Position);
        Assert.Equal(new SourcePosition(1, 25), generate.Options.Model!.Position);
        Assert.Equal(new SourcePosition(1, 37), generate.Options.Stop[1].Position);

        var create = One<CreateModel>("CREATE MODEL \"m\" FROM 'p'");
        Assert.Equal(new SourcePosition(1, 14), create.Name.Position);
    }

    [Fact]
    public void EqualityIgnoresPositions()
    {
        Assert.Equal(One("SELECT a FROM t WHERE a = 1"), One("\n\n  select   a from t where a=1"));
        Assert.NotEqual(One("SELECT a FROM t WHERE a = 1"), One("SELECT a FROM t WHERE a = 2"));
        Assert.Equal(One("SELECT a FROM t").GetHashCode(), One("  SELECT a FROM t").GetHashCode());
    }

    [Fact]
    public void MultipleStatements()
    {
        var statements = StatementParser.Parse("SHOW MODELS; SHOW TIERS;\nDESCRIBE m1;GENERATE 'x' USING ROUTER MAX_TOKENS 5");
        Assert.Equal(
            [new ShowModels(), new ShowTiers(), new Describe(Id("m1")),
             new Generate(new StringLiteral("x"), new GenerateOptions { Routing = RoutingMode.Router, MaxTokens = 5 })],
            statements);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t")]
    [InlineData(";")]
    [InlineData(";;  ;")]
    [InlineData("-- only a comment")]
    [InlineData("/* only\n a comment */")]
    public void EmptyScripts(string text)
    {
        Assert.Empty(StatementParser.Parse(text));
    }

    [Fact]
    public void EmptyStatementsAreSkipped()
    {
        Assert.Equal([new ShowModels(), new ShowTiers()], StatementParser.Parse(";;SHOW MODELS;;;SHOW TIERS;;"));
    }

    [Fact]
    public void Comments()
    {
        const string text = """
            -- list what is loaded
            SHOW /* inline */ MODELS; -- trailing
            /* a block
               over lines; SHOW TIERS */
            DESCRIBE/**/m -- no newline at the end
            """;
        Assert.Equal([new ShowModels(), new Describe(Id("m"))], StatementParser.Parse(text));
    }

    [Theory]
    // Parser errors: what was expected, after what, near which token; line and column are 1-based.
    [InlineData("SHOW", "syntax error at line 1:5: expected identifier or ALL after SHOW, near end of input")]
    [InlineData("SHOW MODELS SHOW TIERS", "syntax error at line 1:13: expected ';' or end of input after MODELS, near 'SHOW'")]
    [InlineData("SHOW TIERS BY 1", "syntax error at line 1:15: expected LAYER after BY, near '1'")]
    [InlineData("SHOW MODELS;\n  FOO", "syntax error at line 2:3: expected SHOW, DESCRIBE, GENERATE, EXPLAIN, CREATE, DROP, USE, SET, RESET or SELECT, near 'FOO'")]
    [InlineData("DESCRIBE ;", "syntax error at line 1:10: expected model name after DESCRIBE, near ';'")]
    [InlineData("CREATE m", "syntax error at line 1:8: expected MODEL or INDEX after CREATE, near 'm'")]
    [InlineData("CREATE INDEX MODEL m", "syntax error at line 1:14: expected ON after INDEX, near 'MODEL'")]
    [InlineData("CREATE MODEL m FROM path", "syntax error at line 1:21: expected a string ('...' / $$...$$) after FROM, near 'path'")]
    [InlineData("GENERATE 'x' STOP", "syntax error at line 1:18: expected a string ('...' / $$...$$ / $n) after STOP, near end of input")]
    // Skipped optional clauses are named too, not just the end of the statement.
    [InlineData("GENERATE 'x' BOGUS", "syntax error at line 1:14: expected USING, MAX_TOKENS, TEMPERATURE, TOP_P, TOP_K, MIN_P, REPEAT_PENALTY, IGNORE_EOS, SEED, STOP, STREAM, FROM, ';' or end of input after ''x'', near 'BOGUS'")]
    [InlineData("SELECT * FROM t ORDER BY a DESC ASC", "syntax error at line 1:33: expected LIMIT, ';', ',' or end of input after DESC, near 'ASC'")]
    [InlineData("SELECT * FROM t WHERE a = 1 WHERE b", "syntax error at line 1:29: expected ORDER, LIMIT, AND, OR, NOT, LIKE, IS, ';', '=', '<>', '<=', '>=', '<', '>' or end of input after '1', near 'WHERE'")]
    [InlineData("SELECT * FROM t WHERE a IS 1", "syntax error at line 1:28: expected NOT or NULL after IS, near '1'")]
    [InlineData("SELECT a AS FROM t", "syntax error at line 1:13: expected identifier after AS, near 'FROM'")]
    [InlineData("SELECT", "syntax error at line 1:7: expected expression or '*' after SELECT, near end of input")]
    [InlineData("DROP MODEL IF m", "syntax error at line 1:15: expected EXISTS after IF, near 'm'")]
    [InlineData("GENERATE CHAT ('user', 'x')", "syntax error at line 1:16: expected '(' after '(', near ''user''")]
    [InlineData("GENERATE hello", "syntax error at line 1:10: expected a string ('...' / $$...$$ / $n) or CHAT after GENERATE, near 'hello'")]
    [InlineData("GENERATE 'x' USING", "syntax error at line 1:19: expected ROUTER or RETRIEVAL after USING, near end of input")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k 4", "syntax error at line 1:32: expected '=' after K, near '4'")]
    [InlineData("SELECT * FROM t WHERE a =", "syntax error at line 1:26: expected expression after '=', near end of input")]
    [InlineData("GENERATE 'x' MAX_TOKENS 5 MAX_TOKENS 6", "syntax error at line 1:27: option MAX_TOKENS specified more than once, near 'MAX_TOKENS'")]
    // Lexer errors.
    [InlineData("SHOW MODELS @", "syntax error at line 1:13: unexpected character, near '@'")]
    [InlineData("GENERATE 'never closed", "syntax error at line 1:10: unterminated string literal, near ''never closed'")]
    // 'a' is a complete literal; the third quote opens one that never closes.
    [InlineData("GENERATE 'a''", "syntax error at line 1:13: unterminated string literal, near '''")]
    [InlineData("SHOW MODELS; /* never closed", "syntax error at line 1:14: unterminated comment, near '/* never closed'")]
    [InlineData("DESCRIBE \"x", "syntax error at line 1:10: unterminated or empty quoted identifier, near '\"x'")]
    [InlineData("SELECT * FROM t WHERE a ! b", "syntax error at line 1:25: unexpected character, near '!'")]
    [InlineData("GENERATE $q$abc$$", "syntax error at line 1:10: unterminated dollar-quoted string, expected closing $q$, near '$q$abc$$'")]
    public void SyntaxErrorMessages(string text, string message)
    {
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse(text));
        Assert.Equal(SqlState.SyntaxError, error.SqlState);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void A_lone_surrogate_is_a_syntax_error_at_its_position()
    {
        // Found by the fuzz test: ANTLR threw ArgumentException. (Not InlineData: test discovery replaces lone surrogates.)
        // A surrogate pair is one column, as ANTLR counts.
        SyntaxErrorMessages("GENERATE '\ud83d\ude00 \ude00'", "syntax error at line 1:13: unexpected character, near U+DE00 (a lone surrogate)");
        SyntaxErrorMessages("SHOW MODELS;\n\ud800", "syntax error at line 2:1: unexpected character, near U+D800 (a lone surrogate)");
        Assert.Single(StatementParser.Parse("GENERATE '\ud83d\ude00'"));
    }

    [Theory]
    [InlineData("GENERATE 'x' MAX_TOKENS 0", "invalid MAX_TOKENS at line 1:25: must be between 1 and 2147483647, got 0")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=99999999999", "invalid k at line 1:32: must be between 1 and 2147483647, got 99999999999")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=2 experts=0", "invalid experts at line 1:42: must be between 1 and 2147483647, got 0")]
    [InlineData("GENERATE CHAT (('robot', 'x'))", "invalid chat role at line 1:17: expected system, user, assistant or tool, got 'robot'")]
    [InlineData("GENERATE 'x' TOP_P 0", "invalid TOP_P at line 1:20: must be between 0 (exclusive) and 1, got 0")]
    [InlineData("GENERATE 'x' TEMPERATURE 0 MIN_P 1.5", "invalid MIN_P at line 1:34: must be between 0 and 1, got 1.5")]
    [InlineData("GENERATE 'x' REPEAT_PENALTY 0", "invalid REPEAT_PENALTY at line 1:29: must be greater than 0, got 0")]
    [InlineData("GENERATE $0", "invalid parameter at line 1:10: must be between $1 and $2147483647, got $0")]
    [InlineData("SELECT * FROM t WHERE a = 99999999999999999999", "integer out of range at line 1:27: 99999999999999999999")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (colour = 'red')", "unknown CREATE MODEL option 'colour' at line 1:31: expected dtype, page_rows, index or tokenizer_fallback")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (index = 1)", "invalid index at line 1:39: expected 'mean_gate' or 'svd_gate' or 'gate_up', got 1")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (index = 'bogus')", "invalid index at line 1:39: expected 'mean_gate' or 'svd_gate' or 'gate_up', got 'bogus'")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (tokenizer_fallback = 'bert')", "invalid tokenizer_fallback at line 1:52: expected 'gpt2', got 'bert'")]
    [InlineData("CREATE INDEX ON MODEL m WITH (keys = 'pca')", "invalid keys at line 1:38: expected 'mean_gate' or 'svd_gate' or 'gate_up', got 'pca'")]
    [InlineData("CREATE INDEX ON MODEL m WITH (metric = 'l2')", "invalid metric at line 1:40: expected 'ip' or 'cosine', got 'l2'")]
    [InlineData("CREATE INDEX ON MODEL m WITH (m = 0)", "invalid m at line 1:35: must be between 1 and 2147483647, got 0")]
    [InlineData("CREATE INDEX ON MODEL m WITH (ef_construction = 'x')", "invalid ef_construction at line 1:49: expected a positive integer, got 'x'")]
    [InlineData("CREATE INDEX ON MODEL m WITH (colour = 'red')",
        "unknown CREATE INDEX option 'colour' at line 1:31: expected keys, metric, m, ef_construction, neuron_keys, calibration or calibration_tokens")]
    [InlineData("CREATE INDEX ON MODEL m WITH (calibration = 5)", "calibration at line 1:45 must be the path of a text file, in quotes")]
    [InlineData("CREATE INDEX ON MODEL m WITH (calibration = '')", "calibration at line 1:45 must be the path of a text file, in quotes")]
    [InlineData("CREATE INDEX ON MODEL m WITH (calibration_tokens = 100)",
        "calibration_tokens needs calibration = 'text file' (the text the retrieval is calibrated on), at line 1:8")]
    [InlineData("CREATE INDEX ON MODEL m WITH (calibration = 't.txt', neuron_keys = 'none')",
        "calibration measures router-first retrieval, which needs neuron keys: drop neuron_keys = 'none' (at line 1:8)")]
    [InlineData("CREATE INDEX ON MODEL m WITH (calibration = 't.txt', calibration_tokens = 0)", "invalid calibration_tokens at line 1:75: must be between 1 and 2147483647, got 0")]
    public void InvalidValueMessages(string text, string message)
    {
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse(text));
        Assert.Equal(SqlState.InvalidParameterValue, error.SqlState);
        Assert.Equal(message, error.Message);
    }

    public const string Syntax = SqlState.SyntaxError;
    public const string Invalid = SqlState.InvalidParameterValue;

    [Theory]
    // ---- statement starts and script structure
    [InlineData("FOO", Syntax, "1:1")]
    [InlineData("SHOW MODELS;\n  FOO", Syntax, "2:3")]
    [InlineData("SHOW MODELS SHOW TIERS", Syntax, "1:13")]
    [InlineData("SHOW", Syntax, "1:5")]
    [InlineData("SHOW 'x'", Syntax, "1:6")]
    [InlineData("SHOW MODELS extra", Syntax, "1:13")]
    [InlineData("DESCRIBE", Syntax, "1:9")]
    [InlineData("DESCRIBE 'm'", Syntax, "1:10")]
    [InlineData("-- c\n/* c\n c */ SHOW\tTIERS;\n\nDESCRIBE", Syntax, "5:9")]
    // ---- SHOW EXPERTS / settings
    [InlineData("SHOW EXPERTS FROM", Syntax, "1:18")]
    [InlineData("SHOW EXPERTS LAYER", Syntax, "1:19")]
    [InlineData("SHOW EXPERTS LAYER x", Syntax, "1:20")]
    [InlineData("SHOW EXPERTS LAYER 1 FROM m", Syntax, "1:22")]
    [InlineData("SHOW EXPERTS LAYER 99999999999", Invalid, "1:20")]
    [InlineData("SET", Syntax, "1:4")]
    [InlineData("SET x", Syntax, "1:6")]
    [InlineData("SET x =", Syntax, "1:8")]
    [InlineData("SET x = (1)", Syntax, "1:9")]
    [InlineData("SET x 5", Syntax, "1:7")]
    [InlineData("SET x = 99999999999999999999", Invalid, "1:9")]
    [InlineData("RESET", Syntax, "1:6")]
    [InlineData("RESET 1", Syntax, "1:7")]
    // ---- model DDL
    [InlineData("CREATE m", Syntax, "1:8")]
    [InlineData("CREATE INDEX ON m", Syntax, "1:17")]
    [InlineData("CREATE INDEX ON MODEL m WITH (keys = 'mean_gate', keys = 'svd_gate')", Syntax, "1:51")]
    [InlineData("DROP INDEX m", Syntax, "1:12")]
    [InlineData("CREATE MODEL", Syntax, "1:13")]
    [InlineData("CREATE MODEL m", Syntax, "1:15")]
    [InlineData("CREATE MODEL m FROM", Syntax, "1:20")]
    [InlineData("CREATE MODEL m FROM path", Syntax, "1:21")]
    [InlineData("CREATE MODEL m FROM 'p' WITH", Syntax, "1:29")]
    [InlineData("CREATE MODEL m FROM 'p' WITH ()", Syntax, "1:31")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (dtype)", Syntax, "1:36")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (dtype = 'f16'", Syntax, "1:44")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (dtype = f16)", Syntax, "1:39")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (dtype = 'f16', dtype = 'f32')", Syntax, "1:46")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (colour = 'red')", Invalid, "1:31")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (dtype = 16)", Invalid, "1:39")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (page_rows = 0)", Invalid, "1:43")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (page_rows = 1.5)", Invalid, "1:43")]
    [InlineData("CREATE MODEL m FROM 'p' WITH (page_rows = 'x')", Invalid, "1:43")]
    [InlineData("DROP m", Syntax, "1:6")]
    [InlineData("DROP MODEL IF m", Syntax, "1:15")]
    [InlineData("DROP MODEL", Syntax, "1:11")]
    [InlineData("USE m", Syntax, "1:5")]
    [InlineData("USE MODEL", Syntax, "1:10")]
    // ---- GENERATE
    [InlineData("GENERATE", Syntax, "1:9")]
    [InlineData("GENERATE hello", Syntax, "1:10")]
    [InlineData("GENERATE 42", Syntax, "1:10")]
    [InlineData("GENERATE 'x' BOGUS", Syntax, "1:14")]
    [InlineData("GENERATE 'x' USING", Syntax, "1:19")]
    [InlineData("GENERATE 'x' USING RETRIEVAL mass=1", Invalid, "1:35")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=2 k=3", Invalid, "1:34")]
    [InlineData("GENERATE 'x' USING RETRIEVAL budget=0.5 prior=1", Invalid, "1:41")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k 4", Syntax, "1:32")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=four", Syntax, "1:32")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=4 ef", Syntax, "1:36")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=0", Invalid, "1:32")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=4 ef=0", Invalid, "1:37")]
    [InlineData("GENERATE 'x' USING ROUTER USING ROUTER", Syntax, "1:27")]
    [InlineData("GENERATE 'x' USING ROUTER USING RETRIEVAL k=1", Syntax, "1:27")]
    [InlineData("GENERATE 'x' MAX_TOKENS 5 MAX_TOKENS 6", Syntax, "1:27")]
    [InlineData("GENERATE 'x' STREAM\n  STREAM", Syntax, "2:3")]
    [InlineData("GENERATE 'x' SEED 1 TEMPERATURE 1 SEED 2", Syntax, "1:35")]
    [InlineData("GENERATE 'x' FROM MODEL a FROM MODEL b", Syntax, "1:27")]
    [InlineData("GENERATE 'x' STOP 'a' STOP 'b'", Syntax, "1:23")]
    [InlineData("GENERATE 'x' MAX_TOKENS", Syntax, "1:24")]
    [InlineData("GENERATE 'x' MAX_TOKENS 0", Invalid, "1:25")]
    [InlineData("GENERATE 'x' MAX_TOKENS 1.5", Syntax, "1:25")]
    [InlineData("GENERATE 'x' TEMPERATURE", Syntax, "1:25")]
    [InlineData("GENERATE 'x' TEMPERATURE -1", Syntax, "1:26")]
    [InlineData("GENERATE 'x' TOP_P 0", Invalid, "1:20")]
    [InlineData("GENERATE 'x' TOP_P 1.01", Invalid, "1:20")]
    [InlineData("GENERATE 'x' MIN_P 2", Invalid, "1:20")]
    [InlineData("GENERATE 'x' TOP_K 0", Invalid, "1:20")]
    [InlineData("GENERATE 'x' SEED 9223372036854775808", Invalid, "1:19")]
    [InlineData("GENERATE 'x' STOP", Syntax, "1:18")]
    [InlineData("GENERATE 'x' STOP 'a',", Syntax, "1:23")]
    [InlineData("GENERATE 'x' FROM m", Syntax, "1:19")]
    [InlineData("GENERATE $0", Invalid, "1:10")]
    [InlineData("GENERATE $", Syntax, "1:10")]
    [InlineData("GENERATE $$never", Syntax, "1:10")]
    [InlineData("GENERATE\n  $t$never$$", Syntax, "2:3")]
    [InlineData("GENERATE 'never closed", Syntax, "1:10")]
    [InlineData("GENERATE 'a''", Syntax, "1:13")]
    // ---- GENERATE CHAT / EXPLAIN
    [InlineData("GENERATE CHAT", Syntax, "1:14")]
    [InlineData("GENERATE CHAT ()", Syntax, "1:16")]
    [InlineData("GENERATE CHAT ('user', 'x')", Syntax, "1:16")]
    [InlineData("GENERATE CHAT (('user'))", Syntax, "1:23")]
    [InlineData("GENERATE CHAT (('user', 'x')", Syntax, "1:29")]
    [InlineData("GENERATE CHAT (('user', 'x'),)", Syntax, "1:30")]
    [InlineData("GENERATE CHAT ((user, 'x'))", Syntax, "1:17")]
    [InlineData("GENERATE CHAT (('user', 'x'), ('robot', 'y'))", Invalid, "1:32")]
    [InlineData("GENERATE CHAT (('user', 'x')) STREAM STREAM", Syntax, "1:38")]
    [InlineData("EXPLAIN", Syntax, "1:8")]
    [InlineData("EXPLAIN SHOW MODELS", Syntax, "1:9")]
    [InlineData("EXPLAIN ANALYZE", Syntax, "1:16")]
    [InlineData("EXPLAIN ANALYZE GENERATE 'x' TOP_K 0", Invalid, "1:36")]
    // ---- SELECT
    [InlineData("SELECT", Syntax, "1:7")]
    [InlineData("SELECT FROM t", Syntax, "1:8")]
    [InlineData("SELECT * FROM", Syntax, "1:14")]
    [InlineData("SELECT *, FROM t", Syntax, "1:11")]
    [InlineData("SELECT a AS FROM t", Syntax, "1:13")]
    [InlineData("SELECT * FROM t WHERE", Syntax, "1:22")]
    [InlineData("SELECT * FROM t WHERE a =", Syntax, "1:26")]
    [InlineData("SELECT * FROM t WHERE a = = 1", Syntax, "1:27")]
    [InlineData("SELECT * FROM t WHERE (a = 1", Syntax, "1:29")]
    [InlineData("SELECT * FROM t WHERE a IS 1", Syntax, "1:28")]
    [InlineData("SELECT * FROM t WHERE a IS NOT", Syntax, "1:31")]
    [InlineData("SELECT * FROM t WHERE a NOT 'x'", Syntax, "1:29")]
    [InlineData("SELECT * FROM t WHERE a AND", Syntax, "1:28")]
    [InlineData("SELECT * FROM t WHERE a = $0", Invalid, "1:27")]
    [InlineData("SELECT * FROM t ORDER a", Syntax, "1:23")]
    [InlineData("SELECT * FROM t ORDER BY", Syntax, "1:25")]
    [InlineData("SELECT * FROM t ORDER BY a DESC ASC", Syntax, "1:33")]
    [InlineData("SELECT * FROM t LIMIT", Syntax, "1:22")]
    [InlineData("SELECT * FROM t LIMIT -1", Syntax, "1:23")]
    [InlineData("SELECT * FROM t LIMIT 99999999999999999999", Invalid, "1:23")]
    [InlineData("SELECT * FROM t LIMIT 1 WHERE a", Syntax, "1:25")]
    [InlineData("SELECT * FROM t WHERE a = 99999999999999999999", Invalid, "1:27")]
    [InlineData("SELECT * FROM t WHERE a = 1 WHERE b", Syntax, "1:29")]
    [InlineData("SELECT f(a,) FROM t", Syntax, "1:12")]
    // ---- lexer
    [InlineData("SHOW MODELS @", Syntax, "1:13")]
    [InlineData("SELECT * FROM t WHERE a ! b", Syntax, "1:25")]
    [InlineData("SHOW MODELS; /* never closed", Syntax, "1:14")]
    [InlineData("DESCRIBE \"x", Syntax, "1:10")]
    [InlineData("DESCRIBE \"\"", Syntax, "1:10")]
    [InlineData("SHOW MODELS;\n\tSHOW #", Syntax, "2:7")]
    public void MalformedInputs(string text, string sqlState, string lineColumn)
    {
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse(text));
        Assert.Equal(sqlState, error.SqlState);
        Assert.Contains($" at line {lineColumn}: ", error.Message);
    }

    [Fact]
    public void ErrorsDoNotWriteToTheConsole()
    {
        TextWriter originalOut = Console.Out, originalError = Console.Error;
        var captured = new StringWriter();
        try
        {
            Console.SetOut(captured);
            Console.SetError(captured);
            Assert.Throws<Vib3Exception>(() => StatementParser.Parse("SHOW @ FOO"));
            Assert.Throws<Vib3Exception>(() => StatementParser.Parse("SHOW FOO BAR"));
            Assert.Throws<Vib3Exception>(() => StatementParser.Parse("SELECT * FROM t WHERE"));
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
        Assert.Equal("", captured.ToString());
    }
}
