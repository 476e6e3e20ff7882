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
                list.Add(Number(s, ref i));
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

    /// <summary>An integer or float literal as Jinja2 reads it: digits, an optional fraction, an optional exponent
    /// (1e8 is a float).</summary>
    private static Token Number(string s, ref int i)
    {
        var st = i;
        static bool Digit(string s, int at) => at < s.Length && char.IsAsciiDigit(s[at]);
        while (Digit(s, i)) i++;
        var isFloat = false;
        if (i + 1 < s.Length && s[i] == '.' && Digit(s, i + 1))
        {
            isFloat = true;
            for (i++; Digit(s, i); i++) { }
        }
        if (i < s.Length && s[i] is 'e' or 'E')
        {
            var sign = i + 1 < s.Length && s[i + 1] is '+' or '-' ? 1 : 0;
            if (Digit(s, i + 1 + sign))
            {
                isFloat = true;
                for (i += 1 + sign; Digit(s, i); i++) { }
            }
        }
        var text = s[st..i];
        if (isFloat) return new(Tk.Float, text, double.Parse(text, CultureInfo.InvariantCulture));
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? new(Tk.Int, text, n)
            : throw new JinjaException($"integer literal {text} does not fit 64 bits");
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

    private sealed partial class Parser(List<Segment> segs, DepthGuard depth)
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
                        case SegKind.Text: body.Add(new TextNode(seg.Content) { Line = seg.Line }); break;
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

        /// <summary>The body of a block statement, one nesting level deeper.</summary>
        private (List<Node> Body, string? Stop, string StopArgs) ParseBlock(string[] stops)
        {
            depth.Enter();
            var block = ParseBody(stops);
            depth.Leave();
            return block;
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
                        var (body, stop, args) = ParseBlock(["elif", "else", "endif"]);
                        branches.Add((cond, body));
                        if (stop == "elif") { cond = ParseExpression(args); continue; }
                        if (stop == "else") elseBody = ParseBlock(["endif"]).Body;
                        break;
                    }
                    return new IfNode(branches, elseBody);
                }
                case "for":
                {
                    var ts = new TokenStream(Tokenize(rest), depth);
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
                    var (body, stop, _) = ParseBlock(["else", "endfor"]);
                    _loopDepth--;
                    var elseBody = stop == "else" ? ParseBlock(["endfor"]).Body : null;
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
                    return new IfNode([(new Lit(true), ParseBlock(["endgeneration"]).Body)], null);
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

        private Expr ParseExpression(string s)
        {
            var ts = new TokenStream(Tokenize(s), depth);
            var e = ts.ParseExpr();
            ts.ExpectEnd();
            return e;
        }
    }

    /// <summary>Expression parsing by recursive descent. Every level it recurses into (parentheses, operands,
    /// arguments) and every link of an operator, filter or postfix chain (evaluated as a left-deep tree) counts
    /// one level of <paramref name="depth"/>, on top of the blocks around the tag.</summary>
    private sealed class TokenStream(List<Token> tokens, DepthGuard depth)
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
            depth.Enter();
            var e = ParseOr();
            if (TryName("if"))
            {
                var cond = ParseOr();
                Expr? otherwise = TryName("else") ? ParseExpr() : null;
                e = new Cond(e, cond, otherwise);
            }
            depth.Leave();
            return e;
        }

        public Expr ParseNoTernary()
        {
            depth.Enter();
            var e = ParseOr();
            depth.Leave();
            return e;
        }

        private Expr ParseOr()
        {
            var at = depth.Depth;
            var e = ParseAnd();
            while (TryName("or")) { depth.Enter(); e = new Binary("or", e, ParseAnd()); }
            depth.Restore(at);
            return e;
        }

        private Expr ParseAnd()
        {
            var at = depth.Depth;
            var e = ParseNot();
            while (TryName("and")) { depth.Enter(); e = new Binary("and", e, ParseNot()); }
            depth.Restore(at);
            return e;
        }

        private Expr ParseNot()
        {
            if (!TryName("not")) return ParseCompare();
            depth.Enter();
            var e = new Unary("not", ParseNot());
            depth.Leave();
            return e;
        }

        private Expr ParseCompare()
        {
            var at = depth.Depth;
            var e = ParseConcat();
            while (true)
            {
                if (Peek.Kind == Tk.Op && Peek.Text is "==" or "!=" or "<" or ">" or "<=" or ">=") { var op = Next().Text; depth.Enter(); e = new Binary(op, e, ParseConcat()); }
                else if (TryName("in")) { depth.Enter(); e = new Binary("in", e, ParseConcat()); }
                else if (IsName("not") && tokens[_i + 1] is { Kind: Tk.Name, Text: "in" }) { _i += 2; depth.Enter(); e = new Unary("not", new Binary("in", e, ParseConcat())); }
                else if (TryName("is"))
                {
                    depth.Enter();
                    var neg = TryName("not");
                    var name = ExpectName();
                    var args = new List<Expr>();
                    if (TryOp("(")) { args = ParseArgs(out _); }
                    else if (Peek.Kind is Tk.String or Tk.Int or Tk.Float || (Peek.Kind == Tk.Name && Peek.Text is not ("and" or "or" or "else" or "if"))) args.Add(ParsePrimaryPostfix());
                    e = new Test(e, name, args, neg);
                }
                else break;
            }
            depth.Restore(at);
            return e;
        }

        private Expr ParseConcat()
        {
            var at = depth.Depth;
            var e = ParseAdd();
            while (TryOp("~")) { depth.Enter(); e = new Binary("~", e, ParseAdd()); }
            depth.Restore(at);
            return e;
        }

        private Expr ParseAdd()
        {
            var at = depth.Depth;
            var e = ParseMul();
            while (Peek.Kind == Tk.Op && Peek.Text is "+" or "-") { var op = Next().Text; depth.Enter(); e = new Binary(op, e, ParseMul()); }
            depth.Restore(at);
            return e;
        }

        private Expr ParseMul()
        {
            var at = depth.Depth;
            var e = ParseUnary();
            while (Peek.Kind == Tk.Op && Peek.Text is "*" or "/" or "//" or "%") { var op = Next().Text; depth.Enter(); e = new Binary(op, e, ParseUnary()); }
            depth.Restore(at);
            return e;
        }

        private Expr ParseUnary()
        {
            if (Peek.Kind == Tk.Op && Peek.Text is "-" or "+")
            {
                var minus = Next().Text == "-";
                depth.Enter();
                var operand = ParseUnary();
                depth.Leave();
                return minus ? new Unary("-", operand) : operand;
            }
            var at = depth.Depth;
            var e = ParsePrimaryPostfix();
            while (TryOp("|"))
            {
                depth.Enter();
                var name = ExpectName();
                var args = new List<Expr>();
                var kwargs = new List<(string, Expr)>();
                if (TryOp("(")) args = ParseArgs(out kwargs);
                e = new Filter(e, name, args, kwargs);
            }
            depth.Restore(at);
            return e;
        }

        private Expr ParsePrimaryPostfix()
        {
            var at = depth.Depth;
            var e = ParsePrimary();
            while (true)
            {
                if (Peek.Kind != Tk.Op || Peek.Text is not ("." or "[" or "(")) break;
                depth.Enter();
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
                else { Expect("("); var args = ParseArgs(out var kw); e = new Call(e, args, kw); }
            }
            depth.Restore(at);
            return e;
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
                    if (kwargs.Exists(k => k.Item1 == n)) throw new JinjaException($"keyword argument '{n}' repeated");
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
                    if (Peek.Kind != Tk.String) return new Lit(t.Value);
                    var adjacent = new StringBuilder((string)t.Value!);   // 'a' 'b' is 'ab'; a builder keeps many linear
                    while (Peek.Kind == Tk.String) adjacent.Append((string)Next().Value!);
                    return new Lit(adjacent.ToString());
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

}
