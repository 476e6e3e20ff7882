namespace Vib3.Models.Tokenization;

/// <summary>A rendered conversation. <see cref="UsedBuiltIn"/> is true when the built-in format named
/// <see cref="BuiltInFormat"/> was used, and <see cref="FallbackReason"/> says why when a template had been given but
/// could not be rendered.</summary>
public sealed record ChatRender(string Text, bool UsedBuiltIn, string? FallbackReason, string? BuiltInFormat = null)
{
    /// <summary>Which template rendered the prompt, as EXPLAIN and the server's log show it: "the model's own",
    /// "built-in mixtral format (the model has none)" or "built-in mixtral format (the model's template is outside
    /// vib3's Jinja subset: ...)".</summary>
    public string Describe() => !UsedBuiltIn
        ? "the model's own"
        : $"built-in {BuiltInFormat} format ({FallbackReason ?? "the model has none"})";
}
