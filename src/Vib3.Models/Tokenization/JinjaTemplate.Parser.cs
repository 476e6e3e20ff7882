using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>Parsing: segments into nodes (if, for, set, macros, loop control), and expression tokens into expressions
/// by precedence.</summary>
public sealed partial class JinjaTemplate
{
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
