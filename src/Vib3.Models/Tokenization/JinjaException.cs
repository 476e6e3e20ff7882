namespace Vib3.Models.Tokenization;

/// <summary>A chat template uses Jinja that vib3's subset does not implement, or fails while rendering.
/// <see cref="Raised"/> marks the template's own raise_exception(...) (the conversation itself is not acceptable);
/// <see cref="LimitExceeded"/> marks a template that reached one of <see cref="JinjaLimits"/> (hostile or broken,
/// never merely unsupported). <see cref="Line"/> is the template line of the tag that failed, when known; the message
/// then starts with it.</summary>
public sealed class JinjaException : Exception
{
    private readonly string _detail;

    public JinjaException(string message, bool raised = false, int? line = null, Exception? inner = null, bool limitExceeded = false)
        : base(line is null ? message : $"line {line}: {message}", inner)
    {
        _detail = message;
        Raised = raised;
        Line = line;
        LimitExceeded = limitExceeded;
    }

    public bool Raised { get; }

    public bool LimitExceeded { get; }

    public int? Line { get; }

    /// <summary>A limit breach: <paramref name="message"/> names the limit.</summary>
    internal static JinjaException Limit(string message) => new(message, limitExceeded: true);

    /// <summary>This error placed at a template line; the innermost tag that knew its line wins, and the template's
    /// own raise_exception text is left as the template wrote it.</summary>
    internal JinjaException AtLine(int line) =>
        Line is not null || Raised ? this : new JinjaException(_detail, Raised, line, this, LimitExceeded);
}
