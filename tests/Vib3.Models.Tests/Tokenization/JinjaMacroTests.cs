using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>Jinja2 macros, loop controls and the other pieces Kimi K2's templates need. Each expected string follows
/// from Jinja2's documented rules and was checked against Jinja2 3.1.6 (trim_blocks, lstrip_blocks, loopcontrols,
/// transformers' tojson).</summary>
public sealed class JinjaMacroTests
{
    private static string Render(string template) =>
        JinjaTemplate.Parse(template).Render(new Dictionary<string, object?> { ["greeting"] = "hello" });

    [Theory]
    // positional, default and keyword arguments
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }}|{{ greet('b', '?') }}|{{ greet(punct='.', name='c') }}", "Hi a!|Hi b?|Hi c.")]
    // a call is a string value, so filters apply to it
    [InlineData("{% macro m(x) %}  {{ x }}  {% endmacro %}[{{ m(1) | trim }}]", "[1]")]
    // defaults are evaluated at call time and may use earlier arguments; a missing argument is undefined
    [InlineData("{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}", "3,6")]
    [InlineData("{% macro m(a, b) %}[{{ b }}]{{ b is defined }}{% endmacro %}{{ m(1) }}", "[]False")]
    // the body sees render variables and later top-level sets (read at call time), not the caller's loop variable
    [InlineData("{% macro g() %}{{ greeting }}{% endmacro %}{{ g() }}", "hello")]
    [InlineData("{% macro g() %}{{ x }}{% endmacro %}{% set x = 5 %}{{ g() }}", "5")]
    [InlineData("{% macro show() %}{{ item is defined }}{% endmacro %}{% for item in [1] %}{{ show() }}{% endfor %}", "False")]
    // ... but a macro defined inside a loop sees that iteration's variables, and is gone after the loop
    [InlineData("{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}", "12")]
    [InlineData("{% for m in ['a', 'b'] %}{% macro show(v) %}{{ m }}{{ v }}{% endmacro %}{% endfor %}{{ show is defined }}", "False")]
    // set inside a macro stays inside; namespace attributes are shared
    [InlineData("{% set x = 1 %}{% macro m() %}{% set x = 2 %}{{ x }}{% endmacro %}{{ m() }}{{ x }}", "21")]
    [InlineData("{% set ns = namespace(n=0) %}{% macro inc() %}{% set ns.n = ns.n + 1 %}{% endmacro %}{{ inc() }}{{ inc() }}{{ ns.n }}", "2")]
    // macros call macros defined later (resolved when called), and themselves
    [InlineData("{% macro outer(x) %}<{{ inner(x) }}>{% endmacro %}{% macro inner(y) %}{{ y | upper }}{% endmacro %}{{ outer('a') }}", "<A>")]
    [InlineData("{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(3) }}", "3210")]
    // whitespace control on the macro tags, called from a loop
    [InlineData("{%- macro m(x) -%}\n  <{{ x }}>\n{%- endmacro -%}\n{% for i in [1, 2] %}\n{{ m(i) }}\n{% endfor %}", "<1>\n<2>\n")]
    // loop controls; a break in an inner loop's else belongs to the outer loop
    [InlineData("{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}", "02")]
    [InlineData("{% for a in [1, 2] %}{{ a }}{% for b in [] %}{% else %}{% break %}{% endfor %}{% endfor %}", "1")]
    // transformers' tojson(separators=...) and list append/pop
    [InlineData("{{ {'a': [1, 'x:y, z']} | tojson(separators=(',', ':')) }}", "{\"a\":[1,\"x:y, z\"]}")]
    [InlineData("{% set q = namespace(ids=[]) %}{% set _ = q.ids.append('x') %}{% set _ = q.ids.append('y') %}{{ q.ids.pop(0) }}{{ q.ids }}", "x['y']")]
    public void Renders_like_jinja2(string template, string expected) => Assert.Equal(expected, Render(template));

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
