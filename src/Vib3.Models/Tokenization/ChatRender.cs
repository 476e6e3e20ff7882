namespace Vib3.Models.Tokenization;

/// <summary>A rendered conversation. <see cref="UsedBuiltIn"/> is true when the family's built-in format was used,
/// and <see cref="FallbackReason"/> says why when a template had been given but could not be rendered.</summary>
public sealed record ChatRender(string Text, bool UsedBuiltIn, string? FallbackReason);
