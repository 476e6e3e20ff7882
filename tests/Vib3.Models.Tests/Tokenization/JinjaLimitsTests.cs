using System.Diagnostics;
using Vib3.Core;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>A model folder's chat template is untrusted: each hostile shape found against the server (20,000 nested
/// parentheses killed the process; range(100000000), 'x' * 1000000000 and nested loops ran for CPU-hours) now ends
/// at once with a JinjaException that names the limit and the line, and through ChatTemplates with a clean
/// ProgramLimitExceeded instead of a silent switch to the built-in format.</summary>
public sealed class JinjaLimitsTests
{
    private static readonly Dictionary<string, object?> NoVariables = new();

    /// <summary>Less than a thread-pool thread's 1.5 MiB: the nesting limit must decide before the stack does.</summary>
    private const int SmallStack = 1 << 20;

    /// <summary>Generous for a shared, loaded 2-core machine (2 s was exceeded there by the 100,000 iterations a loop
    /// may take); on an idle one these take milliseconds. Without the limits each case ran until killed or exhausted
    /// memory; which limit stopped it is asserted by name, so this only catches a case that no longer stops.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(10);

    private static string Repeat(string s, int n) => string.Concat(Enumerable.Repeat(s, n));

    /// <summary>Runs <paramref name="work"/> on a thread with <paramref name="stackBytes"/> of stack and returns
    /// what it threw (a stack overflow would take the test host down, failing the run).</summary>
    private static Exception? OnThread(Action work, int stackBytes)
    {
        Exception? thrown = null;
        var thread = new Thread(() =>
        {
            try { work(); }
            catch (Exception e) { thrown = e; }
        }, stackBytes);
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "the template did not finish");
        return thrown;
    }

    /// <summary>The default limits but for the render time: a case asserting which other limit stops it must not be
    /// stopped by the clock first on a loaded machine (the 2 s default was reached there before 100,000 iterations).</summary>
    private static readonly JinjaLimits AllButTheClock = new() { MaxRenderTime = TimeSpan.FromMinutes(1) };

    private static JinjaException Limit(string template, JinjaLimits? limits = null)
    {
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template, limits ?? AllButTheClock).Render(NoVariables));
        Assert.True(clock.Elapsed < Fast, $"took {clock.Elapsed}");
        Assert.True(e.LimitExceeded, e.Message);
        return e;
    }

    public static TheoryData<string, string> DeepShapes => new()
    {
        { "parentheses", "{{ " + new string('(', 20_000) + "1" + new string(')', 20_000) + " }}" },
        { "lists", "{{ " + new string('[', 20_000) + "1" + new string(']', 20_000) + " }}" },
        { "dicts", "{{ " + Repeat("{'a': ", 20_000) + "1" + new string('}', 20_000) + " }}" },
        { "not", "{{ " + Repeat("not ", 20_000) + "true }}" },
        { "unary minus", "{{ " + new string('-', 20_000) + "1 }}" },
        { "operator chain", "{{ 1" + Repeat(" + 1", 20_000) + " }}" },
        { "and chain", "{{ true" + Repeat(" and true", 20_000) + " }}" },
        { "comparison chain", "{{ 1" + Repeat(" == 1", 20_000) + " }}" },
        { "filter chain", "{{ 'a'" + Repeat(" | trim", 20_000) + " }}" },
        { "attribute chain", "{{ x" + Repeat(".a", 20_000) + " }}" },
        { "calls", "{{ " + Repeat("range(", 20_000) + "1" + new string(')', 20_000) + " }}" },
        { "conditional chain", "{{ " + Repeat("1 if false else ", 20_000) + "2 }}" },
        { "if blocks", Repeat("{% if true %}", 20_000) + "x" + Repeat("{% endif %}", 20_000) },
        { "for blocks", Repeat("{% for i in [1] %}", 20_000) + "x" + Repeat("{% endfor %}", 20_000) },
        { "macro definitions", Repeat("{% macro m() %}", 20_000) + Repeat("{% endmacro %}", 20_000) },
    };

    [Theory]
    [MemberData(nameof(DeepShapes))]
    public void Twenty_thousand_levels_of_nesting_stop_at_the_depth_limit_on_a_small_stack(string shape, string template)
    {
        var e = OnThread(() => JinjaTemplate.Parse(template).Render(NoVariables), SmallStack);
        var jinja = Assert.IsType<JinjaException>(e);
        Assert.True(jinja.LimitExceeded, shape);
        Assert.StartsWith("line 1: ", jinja.Message);
        Assert.Contains($"nested deeper than {JinjaLimits.DefaultMaxDepth} levels", jinja.Message);
    }

    /// <summary>The measurement behind <see cref="JinjaLimits.DefaultMaxDepth"/>: the deepest nesting it allows, of
    /// the shapes that cost the most stack per level (a parenthesis is a dozen parser frames; a macro call, a list
    /// literal and a printed list recurse through the evaluator), parses and renders on a 1 MiB stack with room to
    /// spare; probing found the stack running out only past 450 parenthesis levels or 1,200 macro-call levels.</summary>
    [Fact]
    public void Nesting_just_inside_the_limit_renders_on_a_small_stack()
    {
        const int n = JinjaLimits.DefaultMaxDepth - 10;
        var cases = new (string Template, string Expected)[]
        {
            ("{{ " + new string('(', n) + "1" + new string(')', n) + " }}", "1"),
            ("{{ " + new string('[', n) + "1" + new string(']', n) + " }}", new string('[', n) + "1" + new string(']', n)),
            ("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% else %}bottom{% endif %}{% endmacro %}{{ f(" + (n / 5) + ") }}", "bottom"),
            ("{% set ns = namespace(x=1) %}{% for i in range(" + (n - 5) + ") %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x | tojson | length }}",
                (2 * (n - 5) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        };
        foreach (var (template, expected) in cases)
        {
            string? output = null;
            var e = OnThread(() => output = JinjaTemplate.Parse(template).Render(NoVariables), SmallStack);
            Assert.True(e is null, $"{template[..40]}…: {e}");
            Assert.Equal(expected, output);
        }
    }

    [Theory]
    [InlineData("{% set a = [] %}{% set _ = a.append(a) %}{{ a }}")]
    [InlineData("{% set a = [] %}{% set _ = a.append(a) %}{{ a | tojson }}")]
    [InlineData("{% set a = [] %}{% set _ = a.append(a) %}{{ a == a }}")]
    [InlineData("{% set a = [] %}{% set _ = a.append(a) %}{{ a in a }}")]
    [InlineData("{% set ns = namespace(x=1) %}{% for i in range(50000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")]
    public void Lists_nested_without_end_are_printed_and_compared_within_the_depth_limit(string template) =>
        Assert.Contains("list or dict nested deeper than", Limit(template).Message);

    [Theory]
    [InlineData("{% for i in range(100000000) %}{% endfor %}", "range() of 100000000 items", "MaxProducedBytes")]
    [InlineData("{{ range(1e8) | length }}", "range() of 100000000 items", "MaxProducedBytes")]
    [InlineData("{{ 'x' * 1000000000 }}", "string repeat of 1000000000 characters", "MaxProducedBytes")]
    [InlineData("{{ 'ab' * 9223372036854775807 }}", "string repeat of 18446744073709551614 characters", "MaxProducedBytes")]
    [InlineData("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "more than 100000 loop iterations", "MaxLoopIterations")]
    [InlineData("{% for i in range(1000000) if i < 0 %}{% endfor %}", "more than 100000 loop iterations", "MaxLoopIterations")]
    [InlineData("{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ 'xxxxxxxxxx' %}{% endfor %}", "concatenation", "MaxProducedBytes")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", "concatenation", "MaxProducedBytes")]
    [InlineData("{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "list concatenation", "MaxProducedBytes")]
    [InlineData("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + [i] %}{% endfor %}", "list concatenation", "MaxProducedBytes")]
    [InlineData("{{ ('x' * 1000000).replace('x', 'y' * 100) }}", "replace() of 100000000 characters", "MaxProducedBytes")]
    [InlineData("{{ range(1000) | join('x' * 100000) }}", "join", "MaxProducedBytes")]
    [InlineData("{{ range(1000) | tojson(separators=('x' * 100000, ':')) }}", "tojson", "MaxProducedBytes")]
    [InlineData("{{ ('x' * 30000000)[::-1] }}", "slice of 30000000 characters", "MaxProducedBytes")]
    [InlineData("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "output longer than 8388608 characters", "MaxOutputLength")]
    public void Hostile_loops_and_sizes_fail_fast_naming_the_limit(string template, string what, string limit)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Limit(template);
        Assert.StartsWith("line 1: ", e.Message);
        Assert.Contains(what, e.Message);
        Assert.Contains("JinjaLimits." + limit, e.Message);
        // refused before allocating: the produced-bytes budget, not the value asked for, bounds what was allocated
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 4 * JinjaLimits.DefaultMaxProducedBytes,
            $"{(GC.GetAllocatedBytesForCurrentThread() - allocated) >> 20} MiB allocated");
    }

    [Fact]
    public void A_template_longer_than_the_limit_is_refused_before_parsing() =>
        Assert.Contains("JinjaLimits.MaxTemplateLength", Limit(new string('x', JinjaLimits.DefaultMaxTemplateLength + 1)).Message);

    /// <summary>Slow but within every size limit: each iteration scans 10 million characters and allocates nothing.</summary>
    private const string Slow = "{% set s = 'x' * 10000000 %}{% for i in range(100000) %}{{ s.count('y') }}{% endfor %}";

    [Fact]
    public void A_render_past_its_time_limit_stops_naming_it()
    {
        var e = Limit(Slow, new JinjaLimits { MaxRenderTime = TimeSpan.FromMilliseconds(200) });
        Assert.Contains("rendering took longer than 0.2 s (JinjaLimits.MaxRenderTime)", e.Message);
    }

    [Fact]
    public void A_cancelled_token_stops_a_long_render_promptly()
    {
        var template = JinjaTemplate.Parse(Slow, new JinjaLimits { MaxRenderTime = TimeSpan.FromMinutes(10) });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => template.Render(NoVariables, cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(300) + Fast, $"stopped after {clock.Elapsed}");
    }

    [Fact]
    public void A_chat_render_stops_when_its_request_is_cancelled()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            ChatTemplates.RenderDetailed("qwen3moe", [("user", "Hi")], true, "{{ messages[0].content }}", ct: cancel.Token));
    }

    [Theory]
    [InlineData("{{ " + "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((" +
        "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((" +
        "1 }}", "nested deeper than 200 levels")]
    [InlineData("{% for i in range(100000000) %}{% endfor %}", "range() of 100000000 items")]
    public void A_model_template_that_hits_a_limit_is_an_error_not_the_built_in_format(string template, string what)
    {
        var e = Assert.Throws<Vib3Exception>(() => ChatTemplates.RenderDetailed("qwen3moe", [("user", "Hi")], true, template));
        Assert.Equal(SqlState.ProgramLimitExceeded, e.SqlState);
        Assert.StartsWith("chat template refused, it exceeds a limit: line 1: ", e.Message);
        Assert.Contains(what, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Validation_at_conversion_refuses_a_limit_but_keeps_an_unsupported_template()
    {
        var e = Assert.Throws<Vib3Exception>(() => ChatTemplates.Validate("a\n{{ 'x' * 1000000000 }}", "/models/m: chat template"));
        Assert.Equal(SqlState.ProgramLimitExceeded, e.SqlState);
        Assert.StartsWith("/models/m: chat template: chat template refused, it exceeds a limit: line 2: string repeat", e.Message);
        ChatTemplates.Validate("{% call f() %}x{% endcall %}", "unsupported");          // beyond the subset: served with the built-in
        ChatTemplates.Validate("{{ raise_exception('no system role') }}", "raises");   // the template's own choice
        ChatTemplates.Validate(ChatTemplates.KimiK2, "built-in");
    }

    [Theory]
    [InlineData("{{ 99999999999999999999 }}", "integer literal 99999999999999999999 does not fit 64 bits")]
    [InlineData("{{ 'abc'.startswith() }}", "startswith needs at least 1 argument(s), got 0")]
    [InlineData("{{ range() }}", "range() takes 1 to 3 arguments (0 given)")]
    [InlineData("{{ 3 is divisibleby(0) }}", "divisibleby(0): division by zero")]
    [InlineData("{{ 'abc'.replace('', 'x') }}", "replace() of an empty string is not supported")]
    [InlineData("{{ 'abc'.split('') }}", "split() separator must not be empty")]
    [InlineData("{{ f(a=1, a=2) }}", "keyword argument 'a' repeated")]
    [InlineData("{{ (-9223372036854775807 - 1) | abs }}", "abs() of the smallest 64-bit integer overflows")]
    public void Misuse_of_builtins_is_a_jinja_error(string template, string message)
    {
        var e = Assert.Throws<JinjaException>(() => JinjaTemplate.Parse(template).Render(NoVariables));
        Assert.False(e.LimitExceeded);
        Assert.Equal("line 1: " + message, e.Message);
    }

    [Theory]
    [InlineData("{{ 1e3 }} {{ 2.5E-1 }} {{ 7 % -1 }} {{ 'abc'.count('') }}", "1000.0 0.25 0 4")]
    [InlineData("{{ [1, 2, 3, 4, 5][1:5:9223372036854775807] }}{{ [1, 2, 3][::-9223372036854775807] }}", "[2][3]")]
    [InlineData("{{ 'abcdef'[1::2] }}{{ 'abcdef'[-2::-2] }}{{ 'abc'[5:] }}", "bdfeca")]
    [InlineData("{{ range(9223372036854775800, 9223372036854775807, 3) | length }}", "3")]
    [InlineData("{% for x in [1, 2, 3] if x > 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.previtem }}{% endfor %}", "1/22/22")]
    [InlineData("{% set xs = [1, 2] %}{% for x in xs %}{% set _ = xs.append(x) %}{% endfor %}{{ xs }}", "[1, 2, 1, 2]")]
    public void Arithmetic_and_slices_stay_exact_at_the_edges(string template, string expected) =>
        Assert.Equal(expected, JinjaTemplate.Parse(template).Render(NoVariables));
}
