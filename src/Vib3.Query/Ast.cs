namespace Vib3.Query;

/// <summary>One parsed statement of a vib3 script. Produced by <see cref="StatementParser"/>.</summary>
public abstract record Statement;

/// <summary><c>SHOW MODELS</c></summary>
public sealed record ShowModels : Statement;

/// <summary><c>SHOW TIERS</c></summary>
public sealed record ShowTiers : Statement;

/// <summary><c>DESCRIBE name</c>. Unquoted names are kept as written; <c>"quoted"</c> names are unescaped.</summary>
public sealed record Describe(string Name) : Statement;

/// <summary>How <c>GENERATE</c> picks what to run.</summary>
public enum RoutingMode
{
    /// <summary>No <c>USING</c> clause: the engine decides.</summary>
    Default,
    /// <summary><c>USING ROUTER</c></summary>
    Router,
    /// <summary><c>USING RETRIEVAL k=N</c></summary>
    Retrieval,
}

/// <summary><c>GENERATE 'prompt' [USING ROUTER | USING RETRIEVAL k=N] [MAX_TOKENS N]</c>.</summary>
/// <param name="Prompt">The unescaped prompt text ('' already folded to ').</param>
/// <param name="Routing">The routing clause, <see cref="RoutingMode.Default"/> when absent.</param>
/// <param name="K">Set exactly when <paramref name="Routing"/> is <see cref="RoutingMode.Retrieval"/>.</param>
/// <param name="MaxTokens">The <c>MAX_TOKENS</c> limit, null when absent.</param>
public sealed record Generate(string Prompt, RoutingMode Routing, int? K, int? MaxTokens) : Statement;
