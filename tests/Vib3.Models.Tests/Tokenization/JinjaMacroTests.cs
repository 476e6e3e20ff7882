using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>Jinja2 macros and loop controls (what Kimi K2's templates need) used wrongly: clear errors naming the macro
/// and line. How they render is held to jinja2's own output in <see cref="JinjaAgreementTests"/>.</summary>
public sealed class JinjaMacroTests
{
    private static string Render(string template) =>
        JinjaTemplate.Parse(template).Render(new Dictionary<string, object?> { ["greeting"] = "hello" });

    [Theory]
    [InlineData("{% macro m(x) %}{{ x }}{% endmacro %}\n{{ m(1, 2) }}", "line 2: macro 'm' takes not more than 1 argument(s), got 2")]
    [InlineData("{% macro m(x) %}{{ x }}{% endmacro %}{{ m(y=1) }}", "line 1: macro 'm' takes no keyword argument 'y'")]
    [InlineData("{% macro m(x) %}{{ x }}{% endmacro %}{{ m(1, x=2) }}", "line 1: macro 'm' got multiple values for argument 'x'")]
    [InlineData("{{ m() }}{% macro m() %}x{% endmacro %}", "line 1: 'm' is undefined (macros must be defined before they are called)")]
    public void Bad_calls_name_the_macro_and_line(string template, string message)
    {
        var e = Assert.Throws<JinjaException>(() => Render(template));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("a\n{% macro m(a=1, b) %}{% endmacro %}", "line 2: macro 'm': parameter 'b' without a default follows one with a default")]
    [InlineData("{% for i in [1] %}\n{% macro m() %}\n{% break %}{% endmacro %}{% endfor %}", "line 3: {% break %} outside a for loop")]
    [InlineData("{% macro m() %}\nx", "line 1: missing {% endmacro %}")]
    [InlineData("\n\n{% include 'x.jinja' %}", "line 3: {% include %} is not supported")]
    public void Template_errors_name_the_line(string template, string message)
    {
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Unbounded_recursion_stops_with_an_error()
    {
        var e = Assert.Throws<JinjaException>(() => Render("{% macro f(n) %}\n{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));
        Assert.True(e.LimitExceeded);
        Assert.StartsWith("line 2: ", e.Message);
        Assert.Contains("inside macro 'f' (unbounded recursion?)", e.Message);
    }
}
