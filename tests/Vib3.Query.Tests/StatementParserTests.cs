using Vib3.Core;
using Vib3.Query;

namespace Vib3.Query.Tests;

public class StatementParserTests
{
    [Fact]
    public void ShowModelsAndTiers()
    {
        Assert.Equal([new ShowModels()], StatementParser.Parse("SHOW MODELS"));
        Assert.Equal([new ShowTiers()], StatementParser.Parse("SHOW TIERS;"));
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
        Assert.Equal([new Describe("Llama3_8b")], StatementParser.Parse("describe Llama3_8b"));
        Assert.Equal([new Describe("my \"odd\" model")], StatementParser.Parse("DESCRIBE \"my \"\"odd\"\" model\""));
        // Contextual keywords are still usable as names.
        Assert.Equal([new Describe("models")], StatementParser.Parse("DESCRIBE models"));
        Assert.Equal([new Describe("k")], StatementParser.Parse("DESCRIBE k"));
    }

    [Fact]
    public void GenerateVariants()
    {
        Assert.Equal([new Generate("hi", RoutingMode.Default, null, null)], StatementParser.Parse("GENERATE 'hi'"));
        Assert.Equal([new Generate("hi", RoutingMode.Router, null, null)], StatementParser.Parse("generate 'hi' using router"));
        Assert.Equal([new Generate("hi", RoutingMode.Retrieval, 4, null)], StatementParser.Parse("GENERATE 'hi' USING RETRIEVAL k=4"));
        Assert.Equal([new Generate("hi", RoutingMode.Retrieval, 4, 128)], StatementParser.Parse("GENERATE 'hi' USING RETRIEVAL K = 4 MAX_TOKENS 128"));
        Assert.Equal([new Generate("hi", RoutingMode.Default, null, 16)], StatementParser.Parse("GENERATE 'hi' max_tokens 16"));
    }

    [Fact]
    public void StringLiteralsFoldDoubledQuotes()
    {
        var statement = Assert.IsType<Generate>(Assert.Single(StatementParser.Parse("GENERATE 'it''s ''quoted'''")));
        Assert.Equal("it's 'quoted'", statement.Prompt);

        statement = Assert.IsType<Generate>(Assert.Single(StatementParser.Parse("GENERATE ''")));
        Assert.Equal("", statement.Prompt);

        // Keywords, comment markers, ';' and newlines inside a literal are just text.
        statement = Assert.IsType<Generate>(Assert.Single(StatementParser.Parse("GENERATE 'SHOW MODELS; -- no /* x */\nline2'")));
        Assert.Equal("SHOW MODELS; -- no /* x */\nline2", statement.Prompt);
    }

    [Fact]
    public void MultipleStatements()
    {
        var statements = StatementParser.Parse("SHOW MODELS; SHOW TIERS;\nDESCRIBE m1;GENERATE 'x' USING ROUTER MAX_TOKENS 5");
        Assert.Equal(
            [new ShowModels(), new ShowTiers(), new Describe("m1"), new Generate("x", RoutingMode.Router, null, 5)],
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
        Assert.Equal([new ShowModels(), new Describe("m")], StatementParser.Parse(text));
    }

    [Theory]
    // Parser errors: what was expected, near which token; line and column are 1-based.
    [InlineData("SHOW", "syntax error at line 1:5: expected MODELS or TIERS, near end of input")]
    [InlineData("SHOW FOO", "syntax error at line 1:6: expected MODELS or TIERS, near 'FOO'")]
    [InlineData("SHOW MODELS SHOW TIERS", "syntax error at line 1:13: expected ';' or end of input, near 'SHOW'")]
    [InlineData("SHOW MODELS;\n  FOO", "syntax error at line 2:3: expected SHOW, DESCRIBE or GENERATE, near 'FOO'")]
    [InlineData("select 1", "syntax error at line 1:1: expected SHOW, DESCRIBE or GENERATE, near 'select'")]
    [InlineData("DESCRIBE ;", "syntax error at line 1:10: expected identifier, near ';'")]
    [InlineData("DESCRIBE 'm'", "syntax error at line 1:10: expected identifier, near ''m''")]
    [InlineData("GENERATE hello", "syntax error at line 1:10: expected string literal, near 'hello'")]
    [InlineData("GENERATE 'x' USING", "syntax error at line 1:19: expected ROUTER or RETRIEVAL, near end of input")]
    [InlineData("GENERATE 'x' USING RETRIEVAL", "syntax error at line 1:29: expected K, near end of input")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k 4", "syntax error at line 1:32: expected '=', near '4'")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=four", "syntax error at line 1:32: expected integer, near 'four'")]
    [InlineData("GENERATE 'x' MAX_TOKENS 5 USING ROUTER", "syntax error at line 1:27: expected ';' or end of input, near 'USING'")]
    [InlineData("-- c\n/* c\n c */ SHOW\tTIERS;\n\nDESCRIBE", "syntax error at line 5:9: expected identifier, near end of input")]
    // Lexer errors.
    [InlineData("SHOW MODELS @", "syntax error at line 1:13: unexpected character, near '@'")]
    [InlineData("GENERATE 'never closed", "syntax error at line 1:10: unterminated string literal, near ''never closed'")]
    // 'a' is a complete literal; the third quote opens one that never closes.
    [InlineData("GENERATE 'a''", "syntax error at line 1:13: unterminated string literal, near '''")]
    [InlineData("SHOW MODELS; /* never closed", "syntax error at line 1:14: unterminated comment, near '/* never closed'")]
    [InlineData("DESCRIBE \"x", "syntax error at line 1:10: unterminated or empty quoted identifier, near '\"x'")]
    public void SyntaxErrors(string text, string message)
    {
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse(text));
        Assert.Equal(SqlState.SyntaxError, error.SqlState);
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("GENERATE 'x' MAX_TOKENS 0", "invalid MAX_TOKENS at line 1:25: must be between 1 and 2147483647, got 0")]
    [InlineData("GENERATE 'x' USING RETRIEVAL k=99999999999", "invalid k at line 1:32: must be between 1 and 2147483647, got 99999999999")]
    public void OutOfRangeNumbers(string text, string message)
    {
        var error = Assert.Throws<Vib3Exception>(() => StatementParser.Parse(text));
        Assert.Equal(SqlState.InvalidParameterValue, error.SqlState);
        Assert.Equal(message, error.Message);
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
            Assert.Throws<Vib3Exception>(() => StatementParser.Parse("SHOW FOO"));
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
        Assert.Equal("", captured.ToString());
    }
}
