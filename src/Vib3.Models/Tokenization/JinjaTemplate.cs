using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Vib3.Models.Tokenization;

/// <summary>The Jinja subset chat templates use, rendered like transformers does (trim_blocks, lstrip_blocks):
/// text, {{ }}, {# #}, whitespace control (-), if/elif/else, for (loop.*, tuple targets, "if" filter, else), break and
/// continue (transformers enables loopcontrols), set (also ns.attr), macros (JinjaTemplate.Macros.cs),
/// generation blocks (transparent); expressions with literals, lists, dicts, attribute/subscript/slice,
/// calls, filters, tests (is [not] ...), in, not/and/or, + - * / // % ~, comparisons and "x if c else y";
/// raise_exception, namespace, range; string methods (strip, startswith, split, ...), dict get/items, list append/pop.
/// Anything else throws <see cref="JinjaException"/> at parse or render time, naming the template line.</summary>
public sealed partial class JinjaTemplate
{
    private readonly List<Node> _body;

    private JinjaTemplate(List<Node> body) => _body = body;

    public static JinjaTemplate Parse(string source) => new(new Parser(Lex(source)).ParseBody([]).Body);

    public string Render(IReadOnlyDictionary<string, object?> variables)
    {
        var sb = new StringBuilder();
        var scope = new Scope(null);
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

    // ================================================================== lexing

    private enum SegKind { Text, Output, Statement }

    private sealed record Segment(SegKind Kind, string Content, int Line);

    private static List<Segment> Lex(string src)
    {
        var segs = new List<Segment>();
        var pos = 0;
        var stripNextLeading = false;   // from "-%}" etc.
        var trimNextNewline = false;    // trim_blocks after %} and #}
        var (line, counted) = (1, 0);
        int LineOf(int at)
        {
            for (; counted < at; counted++) if (src[counted] == '\n') line++;
            return line;
        }
        while (pos < src.Length)
        {
            var open = IndexOfTag(src, pos);
            var text = open < 0 ? src[pos..] : src[pos..open];
            if (trimNextNewline && !stripNextLeading)
            {
                if (text.StartsWith("\r\n", StringComparison.Ordinal)) text = text[2..];
                else if (text.StartsWith('\n')) text = text[1..];
            }
            if (stripNextLeading) text = text.TrimStart();
            stripNextLeading = trimNextNewline = false;
            if (open < 0) { if (text.Length > 0) segs.Add(new(SegKind.Text, text, LineOf(pos))); break; }

            var kind = src[open + 1];
            var stripBefore = open + 2 < src.Length && src[open + 2] == '-';
            var keepBefore = open + 2 < src.Length && src[open + 2] == '+';
            if (stripBefore) text = text.TrimEnd();
            else if (kind is '%' or '#' && !keepBefore)
            {
                // lstrip_blocks: spaces and tabs from the start of the line up to a block tag
                var ls = open;
                while (ls > pos && src[ls - 1] is ' ' or '\t') ls--;
                if (ls == 0 || src[ls - 1] == '\n') text = text[..Math.Max(0, text.Length - (open - ls))];
            }
            if (text.Length > 0) segs.Add(new(SegKind.Text, text, LineOf(pos)));

            var tagLine = LineOf(open);
            var close = kind switch { '{' => "}}", '%' => "%}", _ => "#}" };
            var bodyStart = open + 2 + (stripBefore || keepBefore ? 1 : 0);
            var end = kind == '#' ? src.IndexOf(close, bodyStart, StringComparison.Ordinal) : FindClose(src, bodyStart, close);
            if (end < 0) throw new JinjaException($"unclosed '{{{kind}'", line: tagLine);
            var stripAfter = end > bodyStart && src[end - 1] == '-';
            var body = src[bodyStart..(stripAfter ? end - 1 : end)].Trim();
            if (kind == '{') segs.Add(new(SegKind.Output, body, tagLine));
            else if (kind == '%') segs.Add(new(SegKind.Statement, body, tagLine));
            pos = end + 2;
            stripNextLeading = stripAfter;
            trimNextNewline = kind is '%' or '#';
        }
        return segs;
    }

    private static int IndexOfTag(string s, int from)
    {
        for (var i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>The closing delimiter, skipping over string literals.</summary>
    private static int FindClose(string s, int from, string close)
    {
        for (var i = from; i < s.Length - 1; i++)
        {
            var c = s[i];
            if (c is '\'' or '"')
            {
                for (i++; i < s.Length && s[i] != c; i++) if (s[i] == '\\') i++;
                continue;
            }
            if (c == close[0] && s[i + 1] == close[1]) return i;
        }
        return -1;
    }

    // ================================================================== expression tokens

    private enum Tk { Name, String, Int, Float, Op, End }

    private readonly record struct Token(Tk Kind, string Text, object? Value = null);

    private static List<Token> Tokenize(string s)
    {
        var list = new List<Token>();
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (char.IsLetter(c) || c == '_')
            {
                var st = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                list.Add(new(Tk.Name, s[st..i]));
                continue;
            }
            if (char.IsDigit(c))
            {
                var st = i;
                while (i < s.Length && char.IsDigit(s[i])) i++;
                if (i + 1 < s.Length && s[i] == '.' && char.IsDigit(s[i + 1]))
                {
                    for (i++; i < s.Length && char.IsDigit(s[i]); i++) { }
                    list.Add(new(Tk.Float, s[st..i], double.Parse(s[st..i], CultureInfo.InvariantCulture)));
                }
                else list.Add(new(Tk.Int, s[st..i], long.Parse(s[st..i], CultureInfo.InvariantCulture)));
                continue;
            }
            if (c is '\'' or '"')
            {
                var sb = new StringBuilder();
                for (i++; ; i++)
                {
                    if (i >= s.Length) throw new JinjaException("unterminated string literal");
                    var d = s[i];
                    if (d == c) { i++; break; }
                    if (d == '\\' && i + 1 < s.Length)
                    {
                        var e = s[++i];
                        sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => e });
                    }
                    else sb.Append(d);
                }
                list.Add(new(Tk.String, "", sb.ToString()));
                continue;
            }
            var two = i + 1 < s.Length ? s.Substring(i, 2) : "";
            if (two is "==" or "!=" or "<=" or ">=" or "//" or "**") { list.Add(new(Tk.Op, two)); i += 2; continue; }
            if ("+-*/%~()[]{},.:|=<>".Contains(c)) { list.Add(new(Tk.Op, c.ToString())); i++; continue; }
            throw new JinjaException($"unexpected character '{c}' in '{s}'");
        }
        list.Add(new(Tk.End, ""));
        return list;
    }

    // ================================================================== AST

    /// <summary>A template node; <see cref="Line"/> is where its tag starts, for error messages.</summary>
    private abstract record Node
    {
        public int Line { get; init; }
    }

    private sealed record TextNode(string Text) : Node;
    private sealed record OutputNode(Expr Expr) : Node;
    private sealed record IfNode(List<(Expr Cond, List<Node> Body)> Branches, List<Node>? Else) : Node;
    private sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else) : Node;
    private sealed record SetNode(string Name, string? Attr, Expr Value) : Node;
    private sealed record LoopControlNode(bool Break) : Node;

    private abstract record Expr;
    private sealed record Lit(object? Value) : Expr;
    private sealed record Var(string Name) : Expr;
    private sealed record ListExpr(List<Expr> Items) : Expr;
    private sealed record DictExpr(List<(Expr Key, Expr Value)> Items) : Expr;
    private sealed record Attr(Expr Target, string Name) : Expr;
    private sealed record Index(Expr Target, Expr Key) : Expr;
    private sealed record Slice(Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr;
    private sealed record Call(Expr Target, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr;
    private sealed record Filter(Expr Target, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr;
    private sealed record Test(Expr Target, string Name, List<Expr> Args, bool Negated) : Expr;
    private sealed record Unary(string Op, Expr Operand) : Expr;
    private sealed record Binary(string Op, Expr Left, Expr Right) : Expr;
    private sealed record Cond(Expr Then, Expr Condition, Expr? Else) : Expr;

    // ================================================================== parsing

    private sealed partial class Parser(List<Segment> segs)
    {
        private int _at;
        private int _loopDepth;   // for bodies being parsed around the current tag (break/continue need one)

        /// <summary>Parses nodes until a statement whose keyword is in <paramref name="stops"/>; returns it (null at end).</summary>
        public (List<Node> Body, string? Stop, string StopArgs) ParseBody(string[] stops)
        {
            var body = new List<Node>();
            while (_at < segs.Count)
            {
                var seg = segs[_at++];
                try
                {
                    switch (seg.Kind)
                    {
                        case SegKind.Text: body.Add(new TextNode(seg.Content)); break;
                        case SegKind.Output: body.Add(new OutputNode(ParseExpression(seg.Content)) { Line = seg.Line }); break;
                        default:
                            var (kw, rest) = SplitKeyword(seg.Content);
                            if (stops.Contains(kw)) return (body, kw, rest);
                            body.Add(ParseStatement(kw, rest) with { Line = seg.Line });
                            break;
                    }
                }
                catch (JinjaException e) when (e.Line is null)
                {
                    throw e.AtLine(seg.Line);
                }
            }
            if (stops.Length > 0) throw new JinjaException($"missing {{% {stops[^1]} %}}");
            return (body, null, "");
        }

        private static (string, string) SplitKeyword(string s)
        {
            var i = 0;
            while (i < s.Length && (char.IsLetter(s[i]) || s[i] == '_')) i++;
            return (s[..i], s[i..].Trim());
        }

        private Node ParseStatement(string kw, string rest)
        {
            switch (kw)
            {
                case "if":
                {
                    var branches = new List<(Expr, List<Node>)>();
                    var cond = ParseExpression(rest);
                    List<Node>? elseBody = null;
                    while (true)
                    {
                        var (body, stop, args) = ParseBody(["elif", "else", "endif"]);
                        branches.Add((cond, body));
                        if (stop == "elif") { cond = ParseExpression(args); continue; }
                        if (stop == "else") elseBody = ParseBody(["endif"]).Body;
                        break;
                    }
                    return new IfNode(branches, elseBody);
                }
                case "for":
                {
                    var ts = new TokenStream(Tokenize(rest));
                    var targets = new List<string> { ts.ExpectName() };
                    while (ts.TryOp(",")) targets.Add(ts.ExpectName());
                    if (ts.Peek.Kind != Tk.Name || ts.Peek.Text != "in") throw new JinjaException($"expected 'in' in 'for {rest}'");
                    ts.Next();
                    var iterable = ts.ParseNoTernary();
                    Expr? filter = null;
                    if (ts.Peek.Kind == Tk.Name && ts.Peek.Text == "if") { ts.Next(); filter = ts.ParseNoTernary(); }
                    if (ts.Peek.Kind == Tk.Name && ts.Peek.Text == "recursive") throw new JinjaException("recursive loops are not supported");
                    ts.ExpectEnd();
                    _loopDepth++;
                    var (body, stop, _) = ParseBody(["else", "endfor"]);
                    _loopDepth--;
                    var elseBody = stop == "else" ? ParseBody(["endfor"]).Body : null;
                    return new ForNode(targets, iterable, filter, body, elseBody);
                }
                case "set":
                {
                    var eq = rest.IndexOf('=');
                    if (eq < 0) throw new JinjaException("block {% set %} is not supported");
                    var target = rest[..eq].Trim();
                    var dot = target.IndexOf('.');
                    var value = ParseExpression(rest[(eq + 1)..]);
                    return dot < 0 ? new SetNode(target, null, value) : new SetNode(target[..dot].Trim(), target[(dot + 1)..].Trim(), value);
                }
                case "generation":
                    return new IfNode([(new Lit(true), ParseBody(["endgeneration"]).Body)], null);
                case "break" or "continue":
                    if (rest.Length > 0) throw new JinjaException($"unexpected '{rest}' after {kw}");
                    // a for's else body and a macro body inside a loop are outside it, as in Jinja2
                    if (_loopDepth == 0) throw new JinjaException($"{{% {kw} %}} outside a for loop");
                    return new LoopControlNode(kw == "break");
                case "macro":
                    return ParseMacro(rest);
                default:
                    throw new JinjaException($"{{% {kw} %}} is not supported");
            }
        }

        private static Expr ParseExpression(string s)
        {
            var ts = new TokenStream(Tokenize(s));
            var e = ts.ParseExpr();
            ts.ExpectEnd();
            return e;
        }
    }

    private sealed class TokenStream(List<Token> tokens)
    {
        private int _i;

        public Token Peek => tokens[_i];
        public Token Next() => tokens[_i++];
        private bool IsOp(string op) => Peek.Kind == Tk.Op && Peek.Text == op;
        private bool IsName(string n) => Peek.Kind == Tk.Name && Peek.Text == n;
        public bool TryOp(string op) { if (!IsOp(op)) return false; _i++; return true; }
        private bool TryName(string n) { if (!IsName(n)) return false; _i++; return true; }
        public void Expect(string op) { if (!TryOp(op)) throw new JinjaException($"expected '{op}', got '{Peek.Text}'"); }
        public string ExpectName() => Peek.Kind == Tk.Name ? Next().Text : throw new JinjaException($"expected a name, got '{Peek.Text}'");
        public void ExpectEnd() { if (Peek.Kind != Tk.End) throw new JinjaException($"unexpected '{Peek.Text}{Peek.Value}'"); }

        public Expr ParseExpr()
        {
            var e = ParseOr();
            if (!TryName("if")) return e;
            var cond = ParseOr();
            Expr? otherwise = TryName("else") ? ParseExpr() : null;
            return new Cond(e, cond, otherwise);
        }

        public Expr ParseNoTernary() => ParseOr();

        private Expr ParseOr()
        {
            var e = ParseAnd();
            while (TryName("or")) e = new Binary("or", e, ParseAnd());
            return e;
        }

        private Expr ParseAnd()
        {
            var e = ParseNot();
            while (TryName("and")) e = new Binary("and", e, ParseNot());
            return e;
        }

        private Expr ParseNot() => TryName("not") ? new Unary("not", ParseNot()) : ParseCompare();

        private Expr ParseCompare()
        {
            var e = ParseConcat();
            while (true)
            {
                if (Peek.Kind == Tk.Op && Peek.Text is "==" or "!=" or "<" or ">" or "<=" or ">=") { var op = Next().Text; e = new Binary(op, e, ParseConcat()); }
                else if (TryName("in")) e = new Binary("in", e, ParseConcat());
                else if (IsName("not") && tokens[_i + 1] is { Kind: Tk.Name, Text: "in" }) { _i += 2; e = new Unary("not", new Binary("in", e, ParseConcat())); }
                else if (TryName("is"))
                {
                    var neg = TryName("not");
                    var name = ExpectName();
                    var args = new List<Expr>();
                    if (TryOp("(")) { args = ParseArgs(out _); }
                    else if (Peek.Kind is Tk.String or Tk.Int or Tk.Float || (Peek.Kind == Tk.Name && Peek.Text is not ("and" or "or" or "else" or "if"))) args.Add(ParsePrimaryPostfix());
                    e = new Test(e, name, args, neg);
                }
                else return e;
            }
        }

        private Expr ParseConcat()
        {
            var e = ParseAdd();
            while (TryOp("~")) e = new Binary("~", e, ParseAdd());
            return e;
        }

        private Expr ParseAdd()
        {
            var e = ParseMul();
            while (Peek.Kind == Tk.Op && Peek.Text is "+" or "-") { var op = Next().Text; e = new Binary(op, e, ParseMul()); }
            return e;
        }

        private Expr ParseMul()
        {
            var e = ParseUnary();
            while (Peek.Kind == Tk.Op && Peek.Text is "*" or "/" or "//" or "%") { var op = Next().Text; e = new Binary(op, e, ParseUnary()); }
            return e;
        }

        private Expr ParseUnary()
        {
            if (TryOp("-")) return new Unary("-", ParseUnary());
            if (TryOp("+")) return ParseUnary();
            var e = ParsePrimaryPostfix();
            while (TryOp("|"))
            {
                var name = ExpectName();
                var args = new List<Expr>();
                var kwargs = new List<(string, Expr)>();
                if (TryOp("(")) args = ParseArgs(out kwargs);
                e = new Filter(e, name, args, kwargs);
            }
            return e;
        }

        private Expr ParsePrimaryPostfix()
        {
            var e = ParsePrimary();
            while (true)
            {
                if (TryOp(".")) e = new Attr(e, Peek.Kind == Tk.Int ? Next().Text : ExpectName());
                else if (TryOp("["))
                {
                    Expr? a = null, b = null, c = null;
                    if (!IsOp(":")) a = ParseExpr();
                    if (TryOp(":"))
                    {
                        if (!IsOp(":") && !IsOp("]")) b = ParseExpr();
                        if (TryOp(":") && !IsOp("]")) c = ParseExpr();
                        Expect("]");
                        e = new Slice(e, a, b, c);
                    }
                    else { Expect("]"); e = new Index(e, a!); }
                }
                else if (TryOp("(")) { var args = ParseArgs(out var kw); e = new Call(e, args, kw); }
                else return e;
            }
        }

        private List<Expr> ParseArgs(out List<(string, Expr)> kwargs)
        {
            var args = new List<Expr>();
            kwargs = [];
            if (TryOp(")")) return args;
            do
            {
                if (Peek.Kind == Tk.Name && tokens[_i + 1] is { Kind: Tk.Op, Text: "=" })
                {
                    var n = Next().Text;
                    Next();
                    kwargs.Add((n, ParseExpr()));
                }
                else args.Add(ParseExpr());
            } while (TryOp(","));
            Expect(")");
            return args;
        }

        private Expr ParsePrimary()
        {
            var t = Next();
            switch (t.Kind)
            {
                case Tk.String:
                    var s = (string)t.Value!;
                    while (Peek.Kind == Tk.String) s += (string)Next().Value!;
                    return new Lit(s);
                case Tk.Int:
                case Tk.Float: return new Lit(t.Value);
                case Tk.Name:
                    return t.Text switch
                    {
                        "true" or "True" => new Lit(true),
                        "false" or "False" => new Lit(false),
                        "none" or "None" => new Lit(null),
                        _ => new Var(t.Text),
                    };
                case Tk.Op when t.Text == "(":
                {
                    var e = ParseExpr();
                    if (TryOp(","))
                    {
                        var items = new List<Expr> { e };
                        if (!IsOp(")")) do items.Add(ParseExpr()); while (TryOp(","));
                        e = new ListExpr(items);
                    }
                    Expect(")");
                    return e;
                }
                case Tk.Op when t.Text == "[":
                {
                    var items = new List<Expr>();
                    if (!TryOp("]")) { do { if (IsOp("]")) break; items.Add(ParseExpr()); } while (TryOp(",")); Expect("]"); }
                    return new ListExpr(items);
                }
                case Tk.Op when t.Text == "{":
                {
                    var items = new List<(Expr, Expr)>();
                    if (!TryOp("}")) { do { var k = ParseExpr(); Expect(":"); items.Add((k, ParseExpr())); } while (TryOp(",")); Expect("}"); }
                    return new DictExpr(items);
                }
                default:
                    throw new JinjaException($"unexpected '{t.Text}'");
            }
        }
    }

    // ================================================================== evaluation

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

    private sealed class Scope(Scope? parent)
    {
        public readonly Dictionary<string, object?> Vars = new(StringComparer.Ordinal);

        public object? Get(string name)
        {
            for (var s = this; s is not null; s = s.Parent)
                if (s.Vars.TryGetValue(name, out var v)) return v;
            return name switch
            {
                "raise_exception" => (Function)((a, _) => throw new JinjaException(a.Count > 0 ? Str(a[0]) : "raise_exception", raised: true)),
                "namespace" => (Function)((_, kw) => { var ns = new Namespace(); foreach (var (k, v) in kw) ns[k] = v; return ns; }),
                "range" => (Function)((a, _) => Range(a)),
                _ => Undefined.Instance,
            };
        }

        public Scope? Parent => parent;

        /// <summary>The render's outermost scope, which keeps per-render state.</summary>
        public Scope Root => parent is null ? this : parent.Root;

        /// <summary>Macro calls open in this render (meaningful on <see cref="Root"/> only).</summary>
        public int MacroDepth;
    }

    private static List<object?> Range(List<object?> a)
    {
        long start = 0, stop, step = 1;
        if (a.Count == 1) stop = ToLong(a[0]);
        else { start = ToLong(a[0]); stop = ToLong(a[1]); if (a.Count > 2) step = ToLong(a[2]); }
        if (step == 0) throw new JinjaException("range() step must not be zero");
        var list = new List<object?>();
        for (var i = start; step > 0 ? i < stop : i > stop; i += step) list.Add(i);
        return list;
    }

    /// <summary>How a body ended: normally, or at a break/continue that the enclosing for loop acts on.</summary>
    private enum Flow { Normal, Break, Continue }

    private static Flow Exec(List<Node> nodes, Scope scope, StringBuilder sb)
    {
        foreach (var node in nodes)
        {
            Flow flow;
            try
            {
                flow = ExecNode(node, scope, sb);
            }
            catch (JinjaException e) when (e.Line is null && !e.Raised)
            {
                throw e.AtLine(node.Line);
            }
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private static Flow ExecNode(Node node, Scope scope, StringBuilder sb)
    {
        switch (node)
        {
            case TextNode t: sb.Append(t.Text); break;
            case OutputNode o: sb.Append(Str(Eval(o.Expr, scope))); break;
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

    /// <summary>Runs a loop; its own break/continue end here, but a break in its else body belongs to an enclosing loop.</summary>
    private static Flow ExecFor(ForNode f, Scope scope, StringBuilder sb)
    {
        var source = Eval(f.Iterable, scope);
        var items = source switch
        {
            List<object?> l => l,
            Dictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
            string s => s.Select(c => (object?)c.ToString()).ToList(),
            Undefined or null => [],
            _ => throw new JinjaException($"cannot loop over {TypeName(source)}"),
        };
        var selected = new List<object?>();
        foreach (var item in items)
        {
            if (f.Filter is null) { selected.Add(item); continue; }
            var probe = new Scope(scope);
            Bind(f.Targets, item, probe);
            if (Truthy(Eval(f.Filter, probe))) selected.Add(item);
        }
        if (selected.Count == 0) return f.Else is null ? Flow.Normal : Exec(f.Else, new Scope(scope), sb);
        for (var i = 0; i < selected.Count; i++)
        {
            var inner = new Scope(scope);
            Bind(f.Targets, selected[i], inner);
            inner.Vars["loop"] = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["index0"] = (long)i, ["index"] = (long)i + 1, ["first"] = i == 0, ["last"] = i == selected.Count - 1,
                ["length"] = (long)selected.Count, ["revindex"] = (long)(selected.Count - i), ["revindex0"] = (long)(selected.Count - i - 1),
                ["previtem"] = i > 0 ? selected[i - 1] : Undefined.Instance,
                ["nextitem"] = i + 1 < selected.Count ? selected[i + 1] : Undefined.Instance,
            };
            if (Exec(f.Body, inner, sb) == Flow.Break) break;
        }
        return Flow.Normal;
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
            case ListExpr l: return l.Items.Select(x => Eval(x, scope)).ToList();
            case DictExpr d:
            {
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in d.Items) dict[Str(Eval(k, scope))] = Eval(v, scope);
                return dict;
            }
            case Attr a: return GetItem(Eval(a.Target, scope), a.Name, attribute: true);
            case Index i: return GetItem(Eval(i.Target, scope), Eval(i.Key, scope), attribute: false);
            case Slice s: return DoSlice(Eval(s.Target, scope), s.Start is null ? null : Eval(s.Start, scope), s.Stop is null ? null : Eval(s.Stop, scope), s.Step is null ? null : Eval(s.Step, scope));
            case Call c:
            {
                var args = c.Args.Select(x => Eval(x, scope)).ToList();
                var kwargs = c.Kwargs.ToDictionary(x => x.Name, x => Eval(x.Value, scope), StringComparer.Ordinal);
                if (c.Target is Attr m) return CallMethod(Eval(m.Target, scope), m.Name, args);
                return Eval(c.Target, scope) switch
                {
                    Function f => f(args, kwargs),
                    // Jinja2 binds a macro only when its definition runs, so a call above it finds nothing
                    Undefined => throw new JinjaException($"'{Describe(c.Target)}' is undefined (macros must be defined before they are called)"),
                    _ => throw new JinjaException($"{Describe(c.Target)} is not callable"),
                };
            }
            case Filter f: return ApplyFilter(Eval(f.Target, scope), f.Name, f.Args.Select(x => Eval(x, scope)).ToList(), f.Kwargs.ToDictionary(x => x.Name, x => Eval(x.Value, scope)));
            case Test t: return ApplyTest(Eval(t.Target, scope), t.Name, t.Args.Select(x => Eval(x, scope)).ToList()) != t.Negated;
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
                return BinaryOp(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
            }
            case Cond c: return Truthy(Eval(c.Condition, scope)) ? Eval(c.Then, scope) : c.Else is null ? Undefined.Instance : Eval(c.Else, scope);
            default: throw new JinjaException($"cannot evaluate {e.GetType().Name}");
        }
    }

    private static string Describe(Expr e) => e switch { Var v => v.Name, Attr a => Describe(a.Target) + "." + a.Name, _ => "expression" };

    private static object? GetItem(object? target, object? key, bool attribute)
    {
        switch (target)
        {
            case Dictionary<string, object?> d:
                return key is string k && d.TryGetValue(k, out var v) ? v : Undefined.Instance;
            case List<object?> l when key is long or int || (attribute && key is string ks && long.TryParse(ks, out _)):
            {
                var i = key is string s ? long.Parse(s, CultureInfo.InvariantCulture) : ToLong(key);
                if (i < 0) i += l.Count;
                return i >= 0 && i < l.Count ? l[(int)i] : Undefined.Instance;
            }
            case string str when key is long:
            {
                var i = ToLong(key);
                if (i < 0) i += str.Length;
                return i >= 0 && i < str.Length ? str[(int)i].ToString() : Undefined.Instance;
            }
            default:
                return Undefined.Instance;
        }
    }

    private static object? DoSlice(object? target, object? start, object? stop, object? step)
    {
        var st = step is null ? 1 : ToLong(step);
        if (st == 0) throw new JinjaException("slice step must not be zero");
        List<object?> items = target switch
        {
            List<object?> l => l,
            string s => s.Select(c => (object?)c.ToString()).ToList(),
            _ => throw new JinjaException($"cannot slice {TypeName(target)}"),
        };
        var n = items.Count;
        long Norm(object? v, long dflt) { if (v is null) return dflt; var x = ToLong(v); if (x < 0) x += n; return x; }
        var result = new List<object?>();
        if (st > 0)
        {
            var a = Math.Clamp(Norm(start, 0), 0, n);
            var b = Math.Clamp(Norm(stop, n), 0, n);
            for (var i = a; i < b; i += st) result.Add(items[(int)i]);
        }
        else
        {
            var a = Math.Clamp(Norm(start, n - 1), -1, n - 1);
            var b = stop is null ? -1 : Math.Clamp(Norm(stop, -1), -1, n - 1);
            for (var i = a; i > b; i += st) result.Add(items[(int)i]);
        }
        return target is string ? string.Concat(result.Cast<string>()) : result;
    }

    private static object? CallMethod(object? target, string name, List<object?> args)
    {
        if (target is string s)
        {
            string? chars = args.Count > 0 && args[0] is string c0 ? c0 : null;
            return name switch
            {
                "strip" => chars is null ? s.Trim() : s.Trim(chars.ToCharArray()),
                "lstrip" => chars is null ? s.TrimStart() : s.TrimStart(chars.ToCharArray()),
                "rstrip" => chars is null ? s.TrimEnd() : s.TrimEnd(chars.ToCharArray()),
                "startswith" => args[0] is List<object?> ps ? ps.Any(p => s.StartsWith(Str(p), StringComparison.Ordinal)) : s.StartsWith(Str(args[0]), StringComparison.Ordinal),
                "endswith" => args[0] is List<object?> es ? es.Any(p => s.EndsWith(Str(p), StringComparison.Ordinal)) : s.EndsWith(Str(args[0]), StringComparison.Ordinal),
                "split" => (chars is null ? s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries) : s.Split(chars)).Select(x => (object?)x).ToList(),
                "upper" => s.ToUpperInvariant(),
                "lower" => s.ToLowerInvariant(),
                "title" => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(s.ToLowerInvariant()),
                "capitalize" => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
                "replace" => s.Replace(Str(args[0]), Str(args[1]), StringComparison.Ordinal),
                "find" => (long)s.IndexOf(Str(args[0]), StringComparison.Ordinal),
                "count" => (long)(s.Length - s.Replace(Str(args[0]), "", StringComparison.Ordinal).Length) / Math.Max(1, Str(args[0]).Length),
                _ => throw new JinjaException($"string method '{name}' is not supported"),
            };
        }
        if (target is List<object?> list)
            return name switch
            {
                // plain Jinja2 (and llama.cpp's minja) allow these; transformers' immutable sandbox would refuse them,
                // but templates shipped for llama.cpp (Kimi K2's tool-call id queue) rely on them
                "append" => Append(list, args),
                "pop" => Pop(list, args),
                _ => throw new JinjaException($"list method '{name}' is not supported"),
            };
        if (target is Dictionary<string, object?> d)
            return name switch
            {
                "get" => d.TryGetValue(Str(args[0]), out var v) ? v : args.Count > 1 ? args[1] : null,
                "items" => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
                "keys" => d.Keys.Select(k => (object?)k).ToList(),
                "values" => d.Values.ToList(),
                _ => throw new JinjaException($"dict method '{name}' is not supported"),
            };
        throw new JinjaException($"method '{name}' of {TypeName(target)} is not supported");
    }

    private static object? Append(List<object?> list, List<object?> args)
    {
        if (args.Count != 1) throw new JinjaException($"append() takes exactly one argument ({args.Count} given)");
        list.Add(args[0]);
        return null;
    }

    private static object? Pop(List<object?> list, List<object?> args)
    {
        var i = args.Count > 0 ? ToLong(args[0]) : -1;
        if (i < 0) i += list.Count;
        if (i < 0 || i >= list.Count) throw new JinjaException(list.Count == 0 ? "pop from empty list" : "pop index out of range");
        var item = list[(int)i];
        list.RemoveAt((int)i);
        return item;
    }

    private static object? ApplyFilter(object? v, string name, List<object?> args, Dictionary<string, object?> kwargs)
    {
        switch (name)
        {
            case "length" or "count": return (long)Length(v);
            case "trim": return Str(v).Trim();
            case "upper": return Str(v).ToUpperInvariant();
            case "lower": return Str(v).ToLowerInvariant();
            case "capitalize": return CallMethod(Str(v), "capitalize", []);
            case "title": return CallMethod(Str(v), "title", []);
            case "string": return Str(v);
            case "safe": return v;
            case "int": return v is string s ? (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0L) : ToLong(v);
            case "float": return ToDouble(v);
            case "abs": return v is long l ? Math.Abs(l) : Math.Abs(ToDouble(v));
            case "first": return v is List<object?> { Count: > 0 } f ? f[0] : v is string { Length: > 0 } fs ? fs[0].ToString() : Undefined.Instance;
            case "last": return v is List<object?> { Count: > 0 } la ? la[^1] : v is string { Length: > 0 } ls ? ls[^1].ToString() : Undefined.Instance;
            case "list": return v is List<object?> li ? li : v is string st ? st.Select(c => (object?)c.ToString()).ToList() : v is Dictionary<string, object?> dk ? dk.Keys.Cast<object?>().ToList() : new List<object?>();
            case "reverse": return v is string rs ? new string(rs.Reverse().ToArray()) : v is List<object?> rl ? Enumerable.Reverse(rl).ToList() : throw new JinjaException("reverse needs a list or string");
            case "join":
                var sep = args.Count > 0 ? Str(args[0]) : "";
                return v is List<object?> jl ? string.Join(sep, jl.Select(Str)) : Str(v);
            case "default" or "d":
                var boolean = (args.Count > 1 && Truthy(args[1])) || (kwargs.TryGetValue("boolean", out var bo) && Truthy(bo));
                return v is Undefined || (boolean && !Truthy(v)) ? (args.Count > 0 ? args[0] : "") : v;
            case "replace": return Str(v).Replace(Str(args[0]), Str(args[1]), StringComparison.Ordinal);
            case "items": return v is Dictionary<string, object?> d ? CallMethod(d, "items", []) : new List<object?>();
            case "tojson":
                var indent = args.Count > 0 ? args[0] : kwargs.GetValueOrDefault("indent");
                return ToJson(v, indent is long i && i > 0, kwargs.GetValueOrDefault("separators"));
            case "selectattr" or "rejectattr":
            {
                if (v is not List<object?> items) return new List<object?>();
                var attr = Str(args[0]);
                var keep = name == "selectattr";
                return items.Where(it =>
                {
                    var a = GetItem(it, attr, attribute: true);
                    var ok = args.Count > 1 ? ApplyTest(a, Str(args[1]), args.Skip(2).ToList()) : Truthy(a);
                    return ok == keep;
                }).ToList();
            }
            case "map":
            {
                if (v is not List<object?> items) return new List<object?>();
                if (kwargs.TryGetValue("attribute", out var at)) return items.Select(it => GetItem(it, Str(at), attribute: true)).ToList();
                if (args.Count > 0) return items.Select(it => ApplyFilter(it, Str(args[0]), args.Skip(1).ToList(), [])).ToList();
                return items;
            }
            default: throw new JinjaException($"filter '{name}' is not supported");
        }
    }

    private static bool ApplyTest(object? v, string name, List<object?> args) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v is null,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "mapping" => v is Dictionary<string, object?>,
        "sequence" or "iterable" => v is List<object?> or string or Dictionary<string, object?>,
        "callable" => v is Function,
        "even" => ToLong(v) % 2 == 0,
        "odd" => ToLong(v) % 2 != 0,
        "divisibleby" => ToLong(v) % ToLong(args[0]) == 0,
        "eq" or "equalto" or "==" => ValueEquals(v, args[0]),
        "ne" or "!=" => !ValueEquals(v, args[0]),
        "in" => Contains(args[0], v),
        _ => throw new JinjaException($"test '{name}' is not supported"),
    };

    private static object? BinaryOp(string op, object? a, object? b)
    {
        switch (op)
        {
            case "==": return ValueEquals(a, b);
            case "!=": return !ValueEquals(a, b);
            case "in": return Contains(b, a);
            case "~": return Str(a) + Str(b);
            case "<" or ">" or "<=" or ">=":
            {
                var c = a is string sa && b is string sb ? string.CompareOrdinal(sa, sb) : ToDouble(a).CompareTo(ToDouble(b));
                return op switch { "<" => c < 0, ">" => c > 0, "<=" => c <= 0, _ => c >= 0 };
            }
            case "+":
                if (a is string s1 && b is string s2) return s1 + s2;
                if (a is List<object?> l1 && b is List<object?> l2) return l1.Concat(l2).ToList();
                if (a is long x && b is long y) return x + y;
                if (IsNumber(a) && IsNumber(b)) return ToDouble(a) + ToDouble(b);
                throw new JinjaException($"cannot add {TypeName(a)} and {TypeName(b)}");
            case "-" or "*" or "%" or "//" or "/":
                if (op == "*" && a is string rep && b is long times) return string.Concat(Enumerable.Repeat(rep, (int)Math.Max(0, times)));
                if (!IsNumber(a) || !IsNumber(b)) throw new JinjaException($"unsupported operand types for {op}: {TypeName(a)} and {TypeName(b)}");
                if (op == "/") return ToDouble(a) / ToDouble(b);
                if (a is long i && b is long j)
                    return op switch
                    {
                        "-" => i - j,
                        "*" => i * j,
                        "%" => j == 0 ? throw new JinjaException("modulo by zero") : ((i % j) + j) % j,
                        _ => j == 0 ? throw new JinjaException("division by zero") : (long)Math.Floor((double)i / j),
                    };
                var (da, db) = (ToDouble(a), ToDouble(b));
                return op switch { "-" => da - db, "*" => da * db, "%" => da - db * Math.Floor(da / db), _ => Math.Floor(da / db) };
            default: throw new JinjaException($"operator '{op}' is not supported");
        }
    }

    private static bool Contains(object? container, object? item) => container switch
    {
        string s => s.Contains(Str(item), StringComparison.Ordinal),
        List<object?> l => l.Any(x => ValueEquals(x, item)),
        Dictionary<string, object?> d => item is string k && d.ContainsKey(k),
        _ => false,
    };

    private static bool ValueEquals(object? a, object? b)
    {
        if (a is Undefined) a = null;
        if (b is Undefined) b = null;
        if (IsNumber(a) && IsNumber(b)) return ToDouble(a) == ToDouble(b);
        if (a is List<object?> la && b is List<object?> lb) return la.Count == lb.Count && la.Zip(lb).All(p => ValueEquals(p.First, p.Second));
        return Equals(a, b);
    }

    private static bool IsNumber(object? v) => v is long or double;

    private static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dictionary<string, object?> d => d.Count > 0,
        _ => true,
    };

    private static int Length(object? v) => v switch
    {
        string s => s.Length,
        List<object?> l => l.Count,
        Dictionary<string, object?> d => d.Count,
        Undefined or null => 0,
        _ => throw new JinjaException($"{TypeName(v)} has no length"),
    };

    private static long ToLong(object? v) => v switch
    {
        long l => l,
        double d => (long)d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaException($"expected a number, got {TypeName(v)}"),
    };

    private static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new JinjaException($"expected a number, got {TypeName(v)}"),
    };

    private static string TypeName(object? v) => v switch
    {
        null => "none",
        Undefined => "undefined",
        string => "string",
        long => "int",
        double => "float",
        bool => "bool",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        _ => v.GetType().Name,
    };

    /// <summary>Python's str() of a value.</summary>
    private static string Str(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d == Math.Floor(d) && Math.Abs(d) < 1e16 ? d.ToString("0.0", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture),
        List<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
        Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        _ => v.ToString() ?? "",
    };

    private static string Repr(object? v) => v is string s ? "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'" : Str(v);

    /// <summary>transformers' tojson: json.dumps(v, ensure_ascii=False, indent=..., separators=...).</summary>
    private static string ToJson(object? v, bool indent, object? separators)
    {
        var (item, key) = (", ", ": ");
        if (separators is List<object?> { Count: 2 } seps) (item, key) = (Str(seps[0]), Str(seps[1]));
        else if (separators is not (null or Undefined)) throw new JinjaException("tojson separators must be an (item, key) pair");
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indent, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            WriteJson(w, v);
        var json = Encoding.UTF8.GetString(ms.ToArray());
        return indent ? json : JsonSpacing(json, item, key);
    }

    private static void WriteJson(Utf8JsonWriter w, object? v)
    {
        switch (v)
        {
            case null or Undefined: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case long l: w.WriteNumberValue(l); break;
            case double d: w.WriteNumberValue(d); break;
            case List<object?> list: w.WriteStartArray(); foreach (var x in list) WriteJson(w, x); w.WriteEndArray(); break;
            case Dictionary<string, object?> dict:
                w.WriteStartObject();
                foreach (var (k, x) in dict) { w.WritePropertyName(k); WriteJson(w, x); }
                w.WriteEndObject();
                break;
            default: w.WriteStringValue(v.ToString()); break;
        }
    }

    /// <summary>Compact JSON with Python's separators put in place of ',' and ':' outside strings.</summary>
    private static string JsonSpacing(string json, string item, string key)
    {
        var sb = new StringBuilder(json.Length + 16);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\') sb.Append(json[++i]); else if (c == '"') inString = false;
                continue;
            }
            if (c == ',') sb.Append(item);
            else if (c == ':') sb.Append(key);
            else { sb.Append(c); if (c == '"') inString = true; }
        }
        return sb.ToString();
    }
}
