namespace Vib3.Query;

/// <summary>Whether typed text ends a statement: it has a ';' outside strings, quoted names, $tag$ quotes and
/// comments, with nothing but whitespace and comments after it. The REPL keeps reading lines until it does.</summary>
public static class StatementCompleteness
{
    public static bool EndsStatement(string text)
    {
        var complete = false;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == '-' && At(text, i, "--")) { i = SkipTo(text, i, "\n"); continue; }
            if (c == '/' && At(text, i, "/*")) { i = SkipPast(text, i + 2, "*/"); if (i < 0) return false; continue; }
            complete = false;
            switch (c)
            {
                case ';':
                    complete = true;
                    i++;
                    break;
                case '\'' or '"':
                    i = SkipQuoted(text, i, c);
                    if (i < 0) return false;
                    break;
                case '$' when DollarTag(text, i) is { } tag:
                    i = SkipPast(text, i + tag.Length, tag);
                    if (i < 0) return false;
                    break;
                default:
                    i++;
                    break;
            }
        }
        return complete;
    }

    private static bool At(string s, int i, string token) => string.CompareOrdinal(s, i, token, 0, token.Length) == 0;

    private static int SkipTo(string s, int i, string token)
    {
        var at = s.IndexOf(token, i, StringComparison.Ordinal);
        return at < 0 ? s.Length : at;
    }

    private static int SkipPast(string s, int i, string token)
    {
        var at = s.IndexOf(token, i, StringComparison.Ordinal);
        return at < 0 ? -1 : at + token.Length;
    }

    /// <summary>Past a '...' or "..." literal, where a doubled quote is an escaped one; -1 if unterminated.</summary>
    private static int SkipQuoted(string s, int i, char quote)
    {
        for (var j = i + 1; j < s.Length; j++)
        {
            if (s[j] != quote) continue;
            if (j + 1 < s.Length && s[j + 1] == quote) { j++; continue; }
            return j + 1;
        }
        return -1;
    }

    /// <summary>"$$" or "$tag$" starting at i, or null ($1 parameters are not quotes).</summary>
    private static string? DollarTag(string s, int i)
    {
        var j = i + 1;
        while (j < s.Length && (char.IsLetterOrDigit(s[j]) || s[j] == '_')) j++;
        if (j >= s.Length || s[j] != '$') return null;
        var tag = s[i..(j + 1)];
        return tag.Length > 2 && char.IsDigit(tag[1]) ? null : tag;
    }
}
