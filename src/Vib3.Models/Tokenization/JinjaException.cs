namespace Vib3.Models.Tokenization;

/// <summary>A chat template uses Jinja that vib3's subset does not implement, or fails while rendering.
/// <see cref="Raised"/> marks the template's own raise_exception(...) (the conversation itself is not acceptable).</summary>
public sealed class JinjaException : Exception
{
    public JinjaException(string message, bool raised = false) : base(message) => Raised = raised;

    public bool Raised { get; }
}
