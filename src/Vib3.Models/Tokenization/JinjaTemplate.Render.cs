using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>Rendering: statements and expressions. Every node, loop iteration, nesting level and new value is
/// counted against the render's <see cref="RenderBudget"/>. A failed render is abandoned whole (nothing catches a
/// JinjaException to carry on), so a nesting level left by an exception is never given back.</summary>
public sealed partial class JinjaTemplate
{
    private sealed class Undefined
    {
        public static readonly Undefined Instance = new();
        public override string ToString() => "";
    }

    private sealed class Namespace : Dictionary<string, object?>
    {
        public Namespace() : base(StringComparer.Ordinal) { }
    }

    private delegate object? Function(List<object?> args, Dictionary<string, object?> kwargs);

    private sealed class Scope
    {
        private readonly Scope? _parent;

        public readonly Dictionary<string, object?> Vars = new(StringComparer.Ordinal);

        /// <summary>A render's outermost scope.</summary>
        public Scope(RenderBudget budget) => Budget = budget;

        public Scope(Scope parent) => (_parent, Budget) = (parent, parent.Budget);

        public RenderBudget Budget { get; }

        public object? Get(string name)
        {
            for (var s = this; s is not null; s = s._parent)
                if (s.Vars.TryGetValue(name, out var v)) return v;
            return name switch
            {
                "raise_exception" => (Function)((a, _) => throw new JinjaException(a.Count > 0 ? Str(a[0], Budget) : "raise_exception", raised: true)),
                "namespace" => (Function)((_, kw) =>
                {
                    Budget.Entries(kw.Count, "namespace");
                    var ns = new Namespace();
                    foreach (var (k, v) in kw) ns[k] = v;
                    return ns;
                }),
                "range" => (Function)((a, _) => Range(a, Budget)),
                _ => Undefined.Instance,
            };
        }
    }

    private static List<object?> Range(List<object?> a, RenderBudget budget)
    {
        if (a.Count is < 1 or > 3) throw new JinjaException($"range() takes 1 to 3 arguments ({a.Count} given)");
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = ToLong(a[0]);
        else { start = ToLong(a[0]); stop = ToLong(a[1]); if (a.Count > 2) step = ToLong(a[2]); }
        if (step == 0) throw new JinjaException("range() step must not be zero");
        // counted before anything is allocated, in 128 bits so that no start, stop or step overflows
        var span = step > 0 ? (Int128)stop - start : (Int128)start - stop;
        var stride = Int128.Abs(step);
        var count = span <= 0 ? 0 : (span + stride - 1) / stride;
        budget.Entries(count, "range()");
        var list = new List<object?>((int)count);
        for (var i = 0; i < (int)count; i++) list.Add((long)(start + (Int128)i * step));
        return list;
    }

    /// <summary>How a body ended: normally, or at a break/continue that the enclosing for loop acts on.</summary>
    private enum Flow { Normal, Break, Continue }

    private static Flow Exec(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        var budget = scope.Budget;
        budget.Depth.Enter();
        foreach (var node in nodes)
        {
            Flow flow;
            try
            {
                budget.Check();
                flow = ExecNode(node, scope, sb);
            }
            catch (JinjaException e) when (e.Line is null && !e.Raised)
            {
                throw e.AtLine(node.Line);
            }
            if (flow != Flow.Normal)
            {
                budget.Depth.Leave();
                return flow;
            }
        }
        budget.Depth.Leave();
        return Flow.Normal;
    }

    private static Flow ExecNode(Node node, Scope scope, StringBuilder sb)
    {
        switch (node)
        {
            case TextNode t: scope.Budget.Write(sb, t.Text); break;
            case OutputNode o: scope.Budget.Write(sb, Str(Eval(o.Expr, scope), scope.Budget)); break;
            case IfNode i:
                foreach (var (cond, body) in i.Branches)
                    if (Truthy(Eval(cond, scope))) return Exec(body, scope, sb);
                return i.Else is null ? Flow.Normal : Exec(i.Else, scope, sb);
            case ForNode f: return ExecFor(f, scope, sb);
            case LoopControlNode c: return c.Break ? Flow.Break : Flow.Continue;
            case MacroNode m: scope.Vars[m.Name] = DefineMacro(m, scope); break;
            case SetNode s:
            {
                var value = Eval(s.Value, scope);
                if (s.Attr is null) scope.Vars[s.Name] = value;
                else if (scope.Get(s.Name) is Namespace ns) ns[s.Attr] = value;
                else throw new JinjaException($"cannot set attribute '{s.Attr}' of '{s.Name}' (not a namespace)");
                break;
            }
        }
        return Flow.Normal;
    }

    /// <summary>Runs a loop over a snapshot of its items (a body that appends to the list it loops over does not
    /// feed itself); its own break/continue end here, but a break in its else body belongs to an enclosing loop.
    /// Each item tested by the "if" filter and each pass of the body is one iteration of the render's budget.</summary>
    private static Flow ExecFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var budget = scope.Budget;
        var source = Eval(f.Iterable, scope);
        var items = source switch
        {
            List<object?> l => l,
            Dictionary<string, object?> d => Keys(d, budget),
            string s => Characters(s, budget),
            Undefined or null => [],
            _ => throw new JinjaException($"cannot loop over {TypeName(source)}"),
        };
        var count = items.Count; // the filter may change the list it tests: only the items there at the start are looked at
        budget.Entries(count, "loop");
        var selected = new List<object?>(count);
        for (var i = 0; i < count && i < items.Count; i++)
        {
            if (f.Filter is not null)
            {
                budget.Iterate();
                var probe = new Scope(scope);
                Bind(f.Targets, items[i], probe);
                if (!Truthy(Eval(f.Filter, probe))) continue;
            }
            selected.Add(items[i]);
        }
        if (selected.Count == 0) return f.Else is null ? Flow.Normal : Exec(f.Else, new Scope(scope), sb);
        for (var i = 0; i < selected.Count; i++)
        {
            budget.Iterate();
            var inner = new Scope(scope);
            Bind(f.Targets, selected[i], inner);
            inner.Vars["loop"] = new LoopContext(selected, i);
            if (Exec(f.Body, inner, sb) == Flow.Break) break;
        }
        return Flow.Normal;
    }

    /// <summary>Jinja2's loop variable. Its attributes are computed when read, not built per iteration: a loop's
    /// cost per iteration is what bounds a render's time under <see cref="JinjaLimits.MaxLoopIterations"/>.</summary>
    private sealed class LoopContext(List<object?> items, int index)
    {
        public object? Get(string name) => name switch
        {
            "index0" => (long)index,
            "index" => index + 1L,
            "first" => index == 0,
            "last" => index == items.Count - 1,
            "length" => (long)items.Count,
            "revindex" => (long)(items.Count - index),
            "revindex0" => items.Count - index - 1L,
            "previtem" => index > 0 ? items[index - 1] : Undefined.Instance,
            "nextitem" => index + 1 < items.Count ? items[index + 1] : Undefined.Instance,
            _ => Undefined.Instance,
        };

        public override string ToString() => $"<LoopContext {index + 1}/{items.Count}>";
    }

    private static void Bind(List<string> targets, object? item, Scope scope)
    {
        if (targets.Count == 1) { scope.Vars[targets[0]] = item; return; }
        if (item is not List<object?> parts || parts.Count != targets.Count)
            throw new JinjaException($"cannot unpack {TypeName(item)} into {targets.Count} names");
        for (var i = 0; i < targets.Count; i++) scope.Vars[targets[i]] = parts[i];
    }

    private static object? Eval(Expr e, Scope scope)
    {
        switch (e)
        {
            case Lit l: return l.Value;
            case Var v: return scope.Get(v.Name);
        }
        var depth = scope.Budget.Depth;
        depth.Enter();
        var value = EvalComposite(e, scope);
        depth.Leave();
        return value;
    }

    private static object? EvalComposite(Expr e, Scope scope)
    {
        var budget = scope.Budget;
        switch (e)
        {
            case ListExpr l:
                budget.Entries(l.Items.Count, "list");
                return l.Items.Select(x => Eval(x, scope)).ToList();
            case DictExpr d:
            {
                budget.Entries(d.Items.Count, "dict");
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in d.Items) dict[Str(Eval(k, scope), budget)] = Eval(v, scope);
                return dict;
            }
            case Attr a: return GetItem(Eval(a.Target, scope), a.Name, attribute: true);
            case Index i: return GetItem(Eval(i.Target, scope), Eval(i.Key, scope), attribute: false);
            case Slice s:
                return DoSlice(Eval(s.Target, scope), s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope),
                    s.Step is null ? null : Eval(s.Step, scope), budget);
            case Call c:
            {
                var args = c.Args.Select(x => Eval(x, scope)).ToList();
                var kwargs = c.Kwargs.ToDictionary(x => x.Name, x => Eval(x.Value, scope), StringComparer.Ordinal);
                if (c.Target is Attr m) return CallMethod(Eval(m.Target, scope), m.Name, args, budget);
                return Eval(c.Target, scope) switch
                {
                    Function f => f(args, kwargs),
                    // Jinja2 binds a macro only when its definition runs, so a call above it finds nothing
                    Undefined => throw new JinjaException($"'{Describe(c.Target)}' is undefined (macros must be defined before they are called)"),
                    _ => throw new JinjaException($"{Describe(c.Target)} is not callable"),
                };
            }
            case Filter f:
                return ApplyFilter(Eval(f.Target, scope), f.Name, f.Args.Select(x => Eval(x, scope)).ToList(),
                    f.Kwargs.ToDictionary(x => x.Name, x => Eval(x.Value, scope), StringComparer.Ordinal), budget);
            case Test t: return ApplyTest(Eval(t.Target, scope), t.Name, t.Args.Select(x => Eval(x, scope)).ToList(), budget) != t.Negated;
            case Unary u:
            {
                var v = Eval(u.Operand, scope);
                if (u.Op == "not") return !Truthy(v);
                if (v is long n) return -n;
                return -ToDouble(v);
            }
            case Binary b:
            {
                if (b.Op == "and") { var l = Eval(b.Left, scope); return Truthy(l) ? Eval(b.Right, scope) : l; }
                if (b.Op == "or") { var l = Eval(b.Left, scope); return Truthy(l) ? l : Eval(b.Right, scope); }
                return BinaryOp(b.Op, Eval(b.Left, scope), Eval(b.Right, scope), budget);
            }
            case Cond c: return Truthy(Eval(c.Condition, scope)) ? Eval(c.Then, scope) : c.Else is null ? Undefined.Instance : Eval(c.Else, scope);
            default: throw new JinjaException($"cannot evaluate {e.GetType().Name}");
        }
    }

    private static string Describe(Expr e) => e switch { Var v => v.Name, Attr a => Describe(a.Target) + "." + a.Name, _ => "expression" };
}
