using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>The Jinja subset chat templates use, rendered like transformers does (trim_blocks, lstrip_blocks):
/// text, {{ }}, {# #}, whitespace control (-), if/elif/else, for (loop.*, tuple targets, "if" filter, else), break and
/// continue (transformers enables loopcontrols), set (also ns.attr), macros (JinjaTemplate.Macros.cs),
/// generation blocks (transparent); expressions with literals, lists, dicts, attribute/subscript/slice,
/// calls, filters, tests (is [not] ...), in, not/and/or, + - * / // % ~, comparisons and "x if c else y";
/// raise_exception, namespace, range; string methods (strip, startswith, split, ...), dict get/items, list append/pop.
/// Anything else throws <see cref="JinjaException"/> at parse or render time, naming the template line; so does a
/// template that reaches one of its <see cref="JinjaLimits"/> (then <see cref="JinjaException.LimitExceeded"/>).</summary>
public sealed partial class JinjaTemplate
{
    private readonly List<Node> _body;
    private readonly JinjaLimits _limits;

    private JinjaTemplate(List<Node> body, JinjaLimits limits) => (_body, _limits) = (body, limits);

    /// <summary>Parses <paramref name="source"/>; the limits (default <see cref="JinjaLimits.Default"/>) bound this
    /// parse and every later render of the template.</summary>
    public static JinjaTemplate Parse(string source, JinjaLimits? limits = null)
    {
        limits ??= JinjaLimits.Default;
        if (source.Length > limits.MaxTemplateLength)
            throw JinjaException.Limit($"template of {source.Length} characters is longer than {limits.MaxTemplateLength} (JinjaLimits.MaxTemplateLength)");
        return new(new Parser(Lex(source), new DepthGuard(limits.MaxDepth)).ParseBody([]).Body, limits);
    }

    /// <summary>Renders with <paramref name="variables"/>. A cancelled <paramref name="ct"/> stops the render at its
    /// next node or loop iteration (OperationCanceledException).</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, CancellationToken ct = default)
    {
        var sb = new StringBuilder();
        var scope = new Scope(new RenderBudget(_limits, ct));
        foreach (var (k, v) in variables) scope.Vars[k] = v;
        Exec(_body, scope, sb);
        return sb.ToString();
    }

    /// <summary>Converts CLR values (strings, numbers, bools, lists, dictionaries, tuples of role/content) into template values.</summary>
    public static object? Value(object? v) => v switch
    {
        null or string or bool or long or double => v,
        int i => (long)i,
        float f => (double)f,
        IReadOnlyDictionary<string, object?> d => d.ToDictionary(kv => kv.Key, kv => Value(kv.Value), StringComparer.Ordinal),
        System.Collections.IEnumerable e => e.Cast<object?>().Select(Value).ToList(),
        _ => v.ToString(),
    };
}
