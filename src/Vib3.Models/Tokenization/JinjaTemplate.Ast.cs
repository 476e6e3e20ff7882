namespace Vib3.Models.Tokenization;

/// <summary>The parsed template: statement nodes and expressions.</summary>
public sealed partial class JinjaTemplate
{
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
}
