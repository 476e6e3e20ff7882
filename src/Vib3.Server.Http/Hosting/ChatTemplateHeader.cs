using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Http;
using Vib3.Models.Tokenization;

namespace Vib3.Server.Http.Hosting;

/// <summary>Tells a chat client which template rendered its messages, so a fallback to the family's built-in format
/// is never silent: <c>X-Vib3-Chat-Template: model</c>, <c>builtin</c> (the model has no template) or
/// <c>builtin; reason="..."</c> (its template is outside vib3's Jinja subset). The reason is also written to the
/// server's standard error, once per model and reason.</summary>
internal sealed class ChatTemplateHeader(TextWriter log)
{
    public const string Name = "X-Vib3-Chat-Template";

    /// <summary>Longest reason sent in the header; a template's error names at most a construct and a position.</summary>
    public const int MaxReasonChars = 300;

    private readonly ConcurrentDictionary<(string Model, string Reason), bool> _logged = new();

    public void Report(HttpContext ctx, string model, ChatRender? template)
    {
        if (template is null) return;
        ctx.Response.Headers[Name] = Value(template);
        if (template.FallbackReason is { } reason && _logged.TryAdd((model, reason), true))
            log.WriteLine($"vib3: model {model}: chat template: {template.Describe()}");
    }

    public static string Value(ChatRender t) =>
        !t.UsedBuiltIn ? "model" : t.FallbackReason is { } reason ? $"builtin; reason=\"{HeaderSafe(reason)}\"" : "builtin";

    /// <summary>A header value holds printable ASCII only: anything else becomes '?', quotes and backslashes are
    /// escaped for the quoted string, and the text is cut at <see cref="MaxReasonChars"/>.</summary>
    private static string HeaderSafe(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, MaxReasonChars) + 8);
        foreach (var c in text.Length > MaxReasonChars ? text[..MaxReasonChars] : text)
        {
            if (c is '"' or '\\') sb.Append('\\').Append(c);
            else sb.Append(c is >= ' ' and <= '~' ? c : '?');
        }
        return sb.ToString();
    }
}
