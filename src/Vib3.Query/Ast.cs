using System.Collections;

namespace Vib3.Query;

/// <summary>Where a node starts in the query text; line and column are 1-based.</summary>
public readonly record struct SourcePosition(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>
/// Base of every AST node. <see cref="Position"/> is where the node starts in the text, for
/// later semantic errors. It is metadata: node equality is structural and ignores positions,
/// so <c>SHOW MODELS</c> and <c>  show models</c> give equal trees.
/// </summary>
public abstract record Node
{
    /// <summary>Where the node starts (1-based); default when built by hand.</summary>
    public SourcePosition Position { get; init; }

    public virtual bool Equals(Node? other) =>
        ReferenceEquals(this, other) || (other is not null && EqualityContract == other.EqualityContract);

    public override int GetHashCode() => EqualityContract.GetHashCode();
}

/// <summary>An immutable list with structural equality, so records holding lists compare by value.</summary>
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] _items;

    public static readonly ValueList<T> Empty = new([]);

    public ValueList(IEnumerable<T> items) => _items = items.ToArray();

    public T this[int index] => _items[index];
    public int Count => _items.Length;
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public bool Equals(ValueList<T>? other) =>
        other is not null && _items.AsSpan().SequenceEqual(other._items, EqualityComparer<T>.Default);

    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (T item in _items)
        {
            hash.Add(item);
        }
        return hash.ToHashCode();
    }

    public override string ToString() => "[" + string.Join(", ", _items) + "]";

    public static implicit operator ValueList<T>(T[] items) => new(items);
}

/// <summary>
/// A name. Unquoted names keep their spelling and compare case-insensitively (<see cref="Matches"/>);
/// <c>"quoted"</c> names are unescaped and compare exactly.
/// </summary>
public sealed record Identifier(string Name, bool Quoted = false) : Node
{
    /// <summary>Whether this name refers to <paramref name="name"/> under the rules above.</summary>
    public bool Matches(string name) =>
        string.Equals(Name, name, Quoted ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);

    public override string ToString() => Quoted ? "\"" + Name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : Name;
}

// ---------------------------------------------------------------- statements

/// <summary>One parsed statement of a vib3 script. Produced by <see cref="StatementParser"/>.</summary>
public abstract record Statement : Node;

/// <summary><c>SHOW MODELS</c></summary>
public sealed record ShowModels : Statement;

/// <summary><c>SHOW TIERS [BY LAYER]</c>: the model-wide tier counters, or BY LAYER each layer's expert-page reads.</summary>
public sealed record ShowTiers(bool ByLayer = false) : Statement;

/// <summary><c>SHOW EXPERTS [FROM model] [LAYER n]</c>.</summary>
public sealed record ShowExperts(Identifier? Model, int? Layer) : Statement;

/// <summary><c>SHOW ALL</c>: every setting.</summary>
public sealed record ShowAll : Statement;

/// <summary><c>SHOW name</c>: one setting.</summary>
public sealed record ShowVariable(Identifier Name) : Statement;

/// <summary><c>DESCRIBE name</c>.</summary>
public sealed record Describe(Identifier Name) : Statement;

/// <summary><c>CREATE MODEL name FROM 'path' [WITH (dtype = 'f16', page_rows = 64)]</c>.</summary>
/// <param name="DType">The <c>dtype</c> option as written, null when absent (validated by the binder).</param>
/// <param name="PageRows">The <c>page_rows</c> option, null when absent.</param>
/// <param name="Index">WITH (index = 'mean_gate' | ...): build the page index right after conversion (as CREATE INDEX).</param>
public sealed record CreateModel(Identifier Name, string Path, string? DType, int? PageRows, string? Index = null,
    string? TokenizerFallback = null) : Statement;

/// <summary><c>DROP MODEL [IF EXISTS] name</c>.</summary>
public sealed record DropModel(Identifier Name, bool IfExists) : Statement;

/// <summary><c>CREATE INDEX ON MODEL m [WITH (keys = 'svd_gate', metric = 'ip', m = 16, ef_construction = 200)]</c>:
/// the page keys of every MoE layer, for USING RETRIEVAL.</summary>
/// <param name="Keys">mean_gate, svd_gate or gate_up (checked by the parser); null: the default.</param>
/// <param name="Metric">ip or cosine; null: the default.</param>
/// <param name="M">HNSW links per node; null when absent.</param>
/// <param name="EfConstruction">HNSW build breadth; null when absent.</param>
/// <param name="NeuronKeys">The neuron keys router-first retrieval scores with: gate_q8_0 (null: the default), gate_up_q4_0, ...,
/// or none.</param>
public sealed record CreateIndex(Identifier Model, string? Keys, string? Metric, int? M, int? EfConstruction, string? NeuronKeys = null,
    string? Calibration = null, int? CalibrationTokens = null) : Statement;

/// <summary><c>DROP INDEX [IF EXISTS] ON MODEL m</c>.</summary>
public sealed record DropIndex(Identifier Model, bool IfExists) : Statement;

/// <summary><c>USE MODEL name</c>.</summary>
public sealed record UseModel(Identifier Name) : Statement;

/// <summary>
/// <c>SET name = value</c> or <c>SET name TO value</c>. A bare word value becomes a
/// <see cref="StringLiteral"/> (as in PostgreSQL); numbers and TRUE/FALSE keep their type.
/// </summary>
public sealed record SetVariable(Identifier Name, Expression Value) : Statement;

/// <summary><c>RESET name</c>.</summary>
public sealed record ResetVariable(Identifier Name) : Statement;

/// <summary><c>RESET ALL</c>.</summary>
public sealed record ResetAll : Statement;

/// <summary>How <c>GENERATE</c> picks what to run.</summary>
public enum RoutingMode
{
    /// <summary>No <c>USING</c> clause: the engine decides.</summary>
    Default,
    /// <summary><c>USING ROUTER</c></summary>
    Router,
    /// <summary><c>USING RETRIEVAL [k=N] [ef=M] [experts=E] [prior=λ] [mass=M] [budget=B]</c></summary>
    Retrieval,
}

/// <summary>
/// The options of <c>GENERATE</c> and <c>GENERATE CHAT</c>; each may appear at most once, in any order.
/// Unset options are null (or <see cref="RoutingMode.Default"/>, empty, false).
/// </summary>
public sealed record GenerateOptions
{
    public static readonly GenerateOptions None = new();

    /// <summary><c>FROM MODEL m</c></summary>
    public Identifier? Model { get; init; }
    public RoutingMode Routing { get; init; }
    /// <summary>The <c>k=</c> of <c>USING RETRIEVAL</c>: pages a row retrieves (key-only), or at most reads (router-first).</summary>
    public int? K { get; init; }
    /// <summary>The optional <c>ef=</c> of <c>USING RETRIEVAL</c>.</summary>
    public int? Ef { get; init; }
    /// <summary>The optional <c>experts=E</c> of <c>USING RETRIEVAL</c>: retrieve only among the pages of the router's E
    /// most probable experts.</summary>
    public int? Experts { get; init; }
    /// <summary>The optional <c>prior=λ</c> of <c>USING RETRIEVAL</c> (≥ 0): rank pages by key score + λ · ln p_router.</summary>
    public decimal? Prior { get; init; }
    /// <summary>The <c>mass=</c> of <c>USING RETRIEVAL</c> (router-first, in (0, 1)): read a row's pages best first until
    /// they hold this share of its predicted contribution.</summary>
    public decimal? Mass { get; init; }
    /// <summary>The <c>budget=</c> of <c>USING RETRIEVAL</c> (router-first, in (0, 1]): read this share of a row's pages.</summary>
    public decimal? Budget { get; init; }
    public int? MaxTokens { get; init; }
    /// <summary>&gt;= 0.</summary>
    public decimal? Temperature { get; init; }
    /// <summary>In (0, 1].</summary>
    public decimal? TopP { get; init; }
    /// <summary>&gt;= 1.</summary>
    public int? TopK { get; init; }
    /// <summary>In [0, 1].</summary>
    public decimal? MinP { get; init; }
    /// <summary>&gt; 0; 1 is off (llama.cpp's repeat penalty on the last 64 tokens).</summary>
    public decimal? RepeatPenalty { get; init; }
    /// <summary><c>IGNORE_EOS</c>: never end at an end-of-generation token (run to MAX_TOKENS).</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>&gt;= 0.</summary>
    public long? Seed { get; init; }
    /// <summary>Stop sequences: <see cref="StringLiteral"/>s or <see cref="ParameterRef"/>s.</summary>
    public ValueList<Expression> Stop { get; init; } = ValueList<Expression>.Empty;
    public bool Stream { get; init; }
}

/// <summary>A generation statement: <see cref="Generate"/>, <see cref="GenerateChat"/> or <see cref="GenerateTokens"/>.</summary>
public abstract record GenerationStatement(GenerateOptions Options) : Statement;

/// <summary><c>GENERATE text [options]</c>.</summary>
/// <param name="Prompt">A <see cref="StringLiteral"/> (quotes already folded) or a <see cref="ParameterRef"/>.</param>
public sealed record Generate(Expression Prompt, GenerateOptions Options) : GenerationStatement(Options);

/// <summary>One <c>(role, content)</c> of <c>GENERATE CHAT</c>.</summary>
/// <param name="Role">A <see cref="StringLiteral"/> holding system, user, assistant or tool (lower case), or a <see cref="ParameterRef"/>.</param>
public sealed record ChatMessage(Expression Role, Expression Content) : Node;

/// <summary><c>GENERATE CHAT ((role, content), ...) [options]</c>.</summary>
public sealed record GenerateChat(ValueList<ChatMessage> Messages, GenerateOptions Options) : GenerationStatement(Options);

/// <summary>A prompt given as token ids of the model's vocabulary, fed as they are (no tokenizer, no BOS added): what the
/// benchmarks and the model report run. The language has no spelling for it; the engine checks every id.</summary>
public sealed record GenerateTokens(ValueList<int> Tokens, GenerateOptions Options) : GenerationStatement(Options);

/// <summary><c>EXPLAIN [ANALYZE] GENERATE ...</c>.</summary>
public sealed record Explain(bool Analyze, GenerationStatement Statement) : Statement;

/// <summary>One item of a select list.</summary>
public abstract record SelectItem : Node;

/// <summary><c>*</c></summary>
public sealed record SelectStar : SelectItem;

/// <summary><c>expression [AS alias]</c>.</summary>
public sealed record SelectExpression(Expression Expression, Identifier? Alias) : SelectItem;

/// <summary><c>expression [ASC | DESC]</c> of ORDER BY.</summary>
public sealed record OrderItem(Expression Expression, bool Descending) : Node;

/// <summary>
/// <c>SELECT items [FROM table] [WHERE e] [ORDER BY ...] [LIMIT n]</c>. The table is not checked
/// against the system tables here; the binder does that.
/// </summary>
public sealed record Select(
    ValueList<SelectItem> Items,
    Identifier? From,
    Expression? Where,
    ValueList<OrderItem> OrderBy,
    long? Limit) : Statement;

// ---------------------------------------------------------------- expressions

/// <summary>A value expression (WHERE, select list, prompt text, SET value).</summary>
public abstract record Expression : Node;

/// <summary>A string: '...' with '' folded, or the body of $$...$$ / $tag$...$tag$.</summary>
public sealed record StringLiteral(string Value) : Expression;

/// <summary>An integer literal.</summary>
public sealed record IntegerLiteral(long Value) : Expression;

/// <summary>A literal with a decimal point.</summary>
public sealed record DecimalLiteral(decimal Value) : Expression;

/// <summary><c>TRUE</c> or <c>FALSE</c>.</summary>
public sealed record BooleanLiteral(bool Value) : Expression;

/// <summary><c>NULL</c>.</summary>
public sealed record NullLiteral : Expression;

/// <summary><c>$n</c>: the n-th (1-based) bound parameter.</summary>
public sealed record ParameterRef(int Index) : Expression;

/// <summary>A column name.</summary>
public sealed record ColumnRef(Identifier Name) : Expression;

/// <summary><c>name(args)</c>, e.g. <c>version()</c>.</summary>
public sealed record FunctionCall(Identifier Name, ValueList<Expression> Arguments) : Expression;

/// <summary>Comparison operators.</summary>
public enum ComparisonOperator
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// <summary><c>left op right</c> for =, &lt;&gt; (or !=), &lt;, &lt;=, &gt;, &gt;=.</summary>
public sealed record Comparison(ComparisonOperator Operator, Expression Left, Expression Right) : Expression;

/// <summary><c>left [NOT] LIKE pattern</c>.</summary>
public sealed record Like(Expression Operand, Expression Pattern, bool Negated) : Expression;

/// <summary><c>operand IS [NOT] NULL</c>.</summary>
public sealed record IsNull(Expression Operand, bool Negated) : Expression;

/// <summary><c>NOT operand</c>.</summary>
public sealed record Not(Expression Operand) : Expression;

/// <summary><c>left AND right</c>.</summary>
public sealed record And(Expression Left, Expression Right) : Expression;

/// <summary><c>left OR right</c>.</summary>
public sealed record Or(Expression Left, Expression Right) : Expression;
