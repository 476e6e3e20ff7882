namespace Vib3.Query.Tests;

public sealed class StatementCompletenessTests
{
    [Theory]
    [InlineData("SHOW MODELS;", true)]
    [InlineData("SHOW MODELS", false)]
    [InlineData("SHOW MODELS;  -- trailing comment", true)]
    [InlineData("SHOW MODELS; /* block */", true)]
    [InlineData("GENERATE 'a;b'", false)]
    [InlineData("GENERATE 'it''s;' ;", true)]
    [InlineData("GENERATE $$ no end; yet", false)]
    [InlineData("GENERATE $$ done; $$;", true)]
    [InlineData("GENERATE $p$ has $$; inside $p$;", true)]
    [InlineData("GENERATE $1;", true)]
    [InlineData("SELECT \"a;b\" FROM t", false)]
    [InlineData("/* unterminated ; ", false)]
    [InlineData("-- only a comment;", false)]
    [InlineData("SHOW MODELS; SHOW", false)]
    [InlineData("", false)]
    public void Ends_statement(string text, bool expected) => Assert.Equal(expected, StatementCompleteness.EndsStatement(text));
}
