using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>{% macro name(a, b=default) %}...{% endmacro %} as Jinja2 defines it: the name is bound (like set) where
/// the definition is executed; a call binds positional then keyword arguments, evaluates missing defaults in the call's
/// scope (so they may use earlier arguments), leaves other missing arguments undefined, and returns the rendered body
/// as a string. The body sees its arguments and the scope it was defined in (lexical, read at call time), never the
/// caller's loop variables. varargs/kwargs/caller and {% call %} are not supported. Jinja2 has no limit on nested
/// calls of its own (Python's recursion limit stops it); here each call is a level of <see cref="JinjaLimits.MaxDepth"/>,
/// counted with the blocks and expressions inside the macro, so a self-calling macro ends with a limit error.</summary>
public sealed partial class JinjaTemplate
{
    private sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Params, List<Node> Body) : Node;

    private sealed partial class Parser
    {
        private MacroNode ParseMacro(string rest)
        {
            var ts = new TokenStream(Tokenize(rest), depth);
            var name = ts.ExpectName();
            ts.Expect("(");
            var ps = new List<(string Name, Expr? Default)>();
            if (!ts.TryOp(")"))
            {
                do
                {
                    var p = ts.ExpectName();
                    if (ps.Exists(x => x.Name == p)) throw new JinjaException($"macro '{name}' has two parameters named '{p}'");
                    Expr? dflt = ts.TryOp("=") ? ts.ParseExpr() : null;
                    if (dflt is null && ps.Count > 0 && ps[^1].Default is not null)
                        throw new JinjaException($"macro '{name}': parameter '{p}' without a default follows one with a default");
                    ps.Add((p, dflt));
                } while (ts.TryOp(","));
                ts.Expect(")");
            }
            ts.ExpectEnd();
            // a macro body is a function of its own: break/continue in it cannot reach a loop around the definition
            var loops = _loopDepth;
            _loopDepth = 0;
            var body = ParseBlock(["endmacro"]).Body;
            _loopDepth = loops;
            return new MacroNode(name, ps, body);
        }
    }

    private static Function DefineMacro(MacroNode m, Scope defining) => (args, kwargs) =>
    {
        var call = new Scope(defining);
        var budget = call.Budget;
        budget.Check();
        budget.Depth.Enter($"macro '{m.Name}' call");
        var caller = budget.Depth.Macro;
        budget.Depth.Macro = m.Name;
        BindArguments(m, args, kwargs, call);
        var sb = new StringBuilder();
        Exec(m.Body, call, sb);
        budget.Depth.Macro = caller;
        budget.Depth.Leave();
        budget.Chars(sb.Length, $"macro '{m.Name}' result");
        return sb.ToString();
    };

    private static void BindArguments(MacroNode m, List<object?> args, Dictionary<string, object?> kwargs, Scope call)
    {
        if (args.Count > m.Params.Count)
            throw new JinjaException($"macro '{m.Name}' takes not more than {m.Params.Count} argument(s), got {args.Count}");
        for (var i = 0; i < args.Count; i++) call.Vars[m.Params[i].Name] = args[i];
        foreach (var (k, v) in kwargs)
        {
            var at = m.Params.FindIndex(p => p.Name == k);
            if (at < 0) throw new JinjaException($"macro '{m.Name}' takes no keyword argument '{k}'");
            if (at < args.Count) throw new JinjaException($"macro '{m.Name}' got multiple values for argument '{k}'");
            call.Vars[k] = v;
        }
        foreach (var (name, dflt) in m.Params)
            if (!call.Vars.ContainsKey(name))
                call.Vars[name] = dflt is null ? Undefined.Instance : Eval(dflt, call);
    }
}
