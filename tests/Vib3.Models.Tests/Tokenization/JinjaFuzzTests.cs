using System.Diagnostics;
using System.Text;
using Vib3.Models.Tokenization;

namespace Vib3.Models.Tests.Tokenization;

/// <summary>Seeded random templates, well-formed and mangled, some nested thousands deep, parsed and rendered on a
/// 1 MiB stack: whatever the template, the only exception that may come out is <see cref="JinjaException"/> (no
/// stack overflow, out-of-range index, invalid cast, overflow or hang). Bounded to a few seconds.</summary>
public sealed class JinjaFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20_261_206;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    private static readonly string[] Atoms =
    [
        "0", "1", "-1", "3", "9223372036854775807", "2.5", "1e308", "1e3", "'a'", "'ab:c, d'", "\"q\\\"\"", "''", "'\\n'",
        "none", "true", "False", "x", "n", "messages", "messages[0]", "loop", "ns", "ns.a", "tools", "undefined_name",
        "range", "namespace", "[]", "{}", "[1, 'a', [2, none]]", "{'k': 'v', 'n': 1}", "(1, 2)", "'\ud800'",
    ];

    private static readonly string[] BinaryOps =
        ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">=", "and", "or", "in", "not in"];

    private static readonly string[] Filters =
    [
        "length", "count", "trim", "upper", "lower", "title", "capitalize", "string", "int", "float", "abs", "first", "last",
        "list", "reverse", "join", "join(', ')", "default('d')", "default(1, true)", "replace('a', 'bb')", "items", "tojson",
        "tojson(indent=2)", "tojson(separators=(',', ':'))", "selectattr('role')", "rejectattr('role', 'equalto', 'user')",
        "map(attribute='content')", "map('upper')", "safe", "bogus", "join(x)", "replace(1)",
    ];

    private static readonly string[] Methods =
    [
        "strip()", "strip('a')", "lstrip()", "rstrip('\\n')", "split()", "split(',')", "split(x)", "replace('a', 'b')", "replace()",
        "startswith('a')", "startswith(('a', 'b'))", "endswith()", "upper()", "title()", "find('b')", "count('a')", "count()",
        "append(1)", "append(x)", "pop()", "pop(0)", "pop(99)", "get('k')", "get()", "items()", "keys()", "values()", "nope()",
    ];

    private static readonly string[] Tests =
        ["defined", "undefined", "none", "string", "number", "mapping", "sequence", "even", "odd", "divisibleby(0)", "divisibleby 3", "eq 1", "in [1]", "callable", "bogus"];

    private static readonly string Junk = "{}%#-+()[]'\"|.:,=~!<>*/ \n\tabxyz019_";

    private sealed class Generator(Random rng)
    {
        private T Pick<T>(IReadOnlyList<T> items) => items[rng.Next(items.Count)];

        private bool Chance(int percent) => rng.Next(100) < percent;

        public string Expr(int depth)
        {
            if (Chance(2)) return Deep();
            if (depth <= 0 || Chance(25)) return Pick(Atoms);
            var e = Expr(depth - 1);
            return rng.Next(12) switch
            {
                0 => $"{e} {Pick(BinaryOps)} {Expr(depth - 1)}",
                1 => $"not {e}",
                2 => $"-{e}",
                3 => $"({e})",
                4 => $"[{e}, {Expr(depth - 1)}]",
                5 => $"{{{e}: {Expr(depth - 1)}}}",
                6 => $"{e}[{Expr(depth - 1)}]",
                7 => $"{e}[{(Chance(50) ? Expr(depth - 1) : "")}:{(Chance(50) ? Expr(depth - 1) : "")}:{(Chance(50) ? Pick(Atoms) : "")}]",
                8 => $"{e} | {Pick(Filters)}",
                9 => $"{e} is {(Chance(30) ? "not " : "")}{Pick(Tests)}",
                10 => $"{e} if {Expr(depth - 1)} else {Expr(depth - 1)}",
                _ => Chance(50) ? $"{e}.{Pick(Methods)}" : $"range({e}{(Chance(50) ? ", " + Expr(depth - 1) : "")})",
            };
        }

        /// <summary>Nesting far past the depth limit, or just around it.</summary>
        private string Deep()
        {
            var n = Chance(50) ? rng.Next(150, 260) : rng.Next(1_000, 20_000);
            return rng.Next(5) switch
            {
                0 => new string('(', n) + "1" + new string(')', n),
                1 => new string('[', n) + "1" + new string(']', n),
                2 => string.Concat(Enumerable.Repeat("not ", n)) + "x",
                3 => "1" + string.Concat(Enumerable.Repeat(" ~ 1", n)),
                _ => "x" + string.Concat(Enumerable.Repeat(" | trim", n)),
            };
        }

        public string Body(int depth)
        {
            var sb = new StringBuilder();
            for (var i = rng.Next(1, 5); i > 0; i--) sb.Append(Statement(depth));
            return sb.ToString();
        }

        private string Statement(int depth)
        {
            string Ws() => Chance(30) ? "-" : "";
            if (depth <= 0) return Chance(50) ? "text " : $"{{{{{Ws()} {Expr(2)} {Ws()}}}}}";
            return rng.Next(11) switch
            {
                0 => "plain\n  text ",
                1 => $"{{{{{Ws()} {Expr(3)} {Ws()}}}}}",
                2 => $"{{%{Ws()} if {Expr(2)} %}}{Body(depth - 1)}{(Chance(50) ? $"{{% elif {Expr(2)} %}}{Body(depth - 1)}" : "")}{(Chance(50) ? $"{{% else %}}{Body(depth - 1)}" : "")}{{% endif {Ws()}%}}",
                3 => $"{{% for {(Chance(30) ? "k, v" : "it")} in {Expr(2)}{(Chance(30) ? $" if {Expr(2)}" : "")} %}}{Body(depth - 1)}{(Chance(20) ? "{% break %}" : "")}{(Chance(20) ? "{% continue %}" : "")}{(Chance(30) ? $"{{% else %}}{Body(depth - 1)}" : "")}{{% endfor %}}",
                4 => $"{{% set x = {Expr(3)} %}}",
                5 => $"{{% set ns = namespace(a={Expr(2)}) %}}{{% set ns.a = {Expr(2)} %}}",
                6 => $"{{% macro m(a, b={Expr(1)}) %}}{Body(depth - 1)}{(Chance(30) ? "{{ m(a) }}" : "")}{{% endmacro %}}{{{{ m({Expr(2)}) }}}}",
                7 => $"{{# {Expr(1)} #}}",
                8 => "{% generation %}" + Body(depth - 1) + "{% endgeneration %}",
                9 => string.Concat(Enumerable.Range(0, rng.Next(1, 12)).Select(_ => Junk[rng.Next(Junk.Length)])),
                _ => $"{{{{ {Expr(2)}.{Pick(Methods)} }}}}",
            };
        }

        /// <summary>A template with characters deleted, duplicated or inserted at random places.</summary>
        public string Mangle(string template)
        {
            var sb = new StringBuilder(template);
            for (var edits = rng.Next(1, 6); edits > 0 && sb.Length > 0; edits--)
            {
                var at = rng.Next(sb.Length);
                var len = Math.Min(rng.Next(1, 8), sb.Length - at);
                switch (rng.Next(3))
                {
                    case 0: sb.Remove(at, len); break;
                    case 1: sb.Insert(at, sb.ToString(at, len)); break;
                    default: sb.Insert(at, Junk[rng.Next(Junk.Length)]); break;
                }
            }
            return sb.ToString();
        }
    }

    private static Dictionary<string, object?> Variables() => new()
    {
        ["messages"] = JinjaTemplate.Value(new List<object?>
        {
            new Dictionary<string, object?> { ["role"] = "system", ["content"] = "Be brief." },
            new Dictionary<string, object?> { ["role"] = "user", ["content"] = "Hi, a:b" },
            new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "<think>x</think>Hello" },
        }),
        ["tools"] = JinjaTemplate.Value(new List<object?> { new Dictionary<string, object?> { ["name"] = "f", ["parameters"] = new List<object?> { 1, "a" } } }),
        ["x"] = "a,b c",
        ["n"] = 5L,
        ["add_generation_prompt"] = true,
    };

    [Fact]
    public void Random_templates_raise_nothing_but_JinjaException()
    {
        var limits = new JinjaLimits { MaxRenderTime = TimeSpan.FromMilliseconds(250) };
        var (tried, rendered) = (0, 0);
        string? failure = null;
        var thread = new Thread(() =>
        {
            var rng = new Random(Seed);
            var gen = new Generator(rng);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < Budget && failure is null)
            {
                var template = gen.Body(3);
                if (rng.Next(3) == 0) template = gen.Mangle(template);
                tried++;
                try
                {
                    JinjaTemplate.Parse(template, limits).Render(Variables());
                    rendered++;
                }
                catch (JinjaException)
                {
                    // the one allowed outcome besides a rendering
                }
                catch (Exception e)
                {
                    failure = $"template #{tried} (seed {Seed}) threw {e.GetType().Name}: {e.Message}\n{template[..Math.Min(template.Length, 2000)]}";
                }
            }
        }, 1 << 20);
        thread.Start();
        Assert.True(thread.Join(Budget + TimeSpan.FromSeconds(20)), "the fuzz run did not finish");
        output.WriteLine($"{tried} templates, {rendered} rendered, the rest refused with a JinjaException");
        Assert.True(failure is null, failure);
        Assert.True(tried >= 200, $"only {tried} templates in {Budget}");
        // the generator reaches the evaluator, not only the parser's error paths
        Assert.True(rendered >= tried / 10, $"{rendered} of {tried} rendered");
    }
}
