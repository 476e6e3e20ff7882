using System.Globalization;
using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>Lexing: template text into segments (text, {{ }}, {% %}; comments dropped, whitespace control applied),
/// and expression text into tokens.</summary>
public sealed partial class JinjaTemplate
{
    private enum SegKind { Text, Output, Statement }

    private sealed record Segment(SegKind Kind, string Content, int Line);

    private static List<Segment> Lex(string src)
    {
        var segs = new List<Segment>();
        var pos = 0;
        var stripNextLeading = false;   // from "-%}" etc.
        var trimNextNewline = false;    // trim_blocks after %} and #}
        var (line, counted) = (1, 0);
        int LineOf(int at)
        {
            for (; counted < at; counted++) if (src[counted] == '\n') line++;
            return line;
        }
        while (pos < src.Length)
        {
            var open = IndexOfTag(src, pos);
            var text = open < 0 ? src[pos..] : src[pos..open];
            if (trimNextNewline && !stripNextLeading)
            {
                if (text.StartsWith("\r\n", StringComparison.Ordinal)) text = text[2..];
                else if (text.StartsWith('\n')) text = text[1..];
            }
            if (stripNextLeading) text = text.TrimStart();
            stripNextLeading = trimNextNewline = false;
            if (open < 0) { if (text.Length > 0) segs.Add(new(SegKind.Text, text, LineOf(pos))); break; }

            var kind = src[open + 1];
            var stripBefore = open + 2 < src.Length && src[open + 2] == '-';
            var keepBefore = open + 2 < src.Length && src[open + 2] == '+';
            if (stripBefore) text = text.TrimEnd();
            else if (kind is '%' or '#' && !keepBefore)
            {
                // lstrip_blocks: spaces and tabs from the start of the line up to a block tag
                var ls = open;
                while (ls > pos && src[ls - 1] is ' ' or '\t') ls--;
                if (ls == 0 || src[ls - 1] == '\n') text = text[..Math.Max(0, text.Length - (open - ls))];
            }
            if (text.Length > 0) segs.Add(new(SegKind.Text, text, LineOf(pos)));

            var tagLine = LineOf(open);
            var close = kind switch { '{' => "}}", '%' => "%}", _ => "#}" };
            var bodyStart = open + 2 + (stripBefore || keepBefore ? 1 : 0);
            var end = kind == '#' ? src.IndexOf(close, bodyStart, StringComparison.Ordinal) : FindClose(src, bodyStart, close);
            if (end < 0) throw new JinjaException($"unclosed '{{{kind}'", line: tagLine);
            var stripAfter = end > bodyStart && src[end - 1] == '-';
            var body = src[bodyStart..(stripAfter ? end - 1 : end)].Trim();
            if (kind == '{') segs.Add(new(SegKind.Output, body, tagLine));
            else if (kind == '%') segs.Add(new(SegKind.Statement, body, tagLine));
            pos = end + 2;
            stripNextLeading = stripAfter;
            trimNextNewline = kind is '%' or '#';
        }
        return segs;
    }

    private static int IndexOfTag(string s, int from)
    {
        for (var i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    /// <summary>The closing delimiter, skipping over string literals.</summary>
    private static int FindClose(string s, int from, string close)
    {
        for (var i = from; i < s.Length - 1; i++)
        {
            var c = s[i];
            if (c is '\'' or '"')
            {
                for (i++; i < s.Length && s[i] != c; i++) if (s[i] == '\\') i++;
                continue;
            }
            if (c == close[0] && s[i + 1] == close[1]) return i;
        }
        return -1;
    }

    // ================================================================== expression tokens

    private enum Tk { Name, String, Int, Float, Op, End }

    private readonly record struct Token(Tk Kind, string Text, object? Value = null);

    private static List<Token> Tokenize(string s)
    {
        var list = new List<Token>();
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (char.IsLetter(c) || c == '_')
            {
                var st = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                list.Add(new(Tk.Name, s[st..i]));
                continue;
            }
            if (char.IsDigit(c))
            {
                list.Add(Number(s, ref i));
                continue;
            }
            if (c is '\'' or '"')
            {
                var sb = new StringBuilder();
                for (i++; ; i++)
                {
                    if (i >= s.Length) throw new JinjaException("unterminated string literal");
                    var d = s[i];
                    if (d == c) { i++; break; }
                    if (d == '\\' && i + 1 < s.Length)
                    {
                        var e = s[++i];
                        sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => e });
                    }
                    else sb.Append(d);
                }
                list.Add(new(Tk.String, "", sb.ToString()));
                continue;
            }
            var two = i + 1 < s.Length ? s.Substring(i, 2) : "";
            if (two is "==" or "!=" or "<=" or ">=" or "//" or "**") { list.Add(new(Tk.Op, two)); i += 2; continue; }
            if ("+-*/%~()[]{},.:|=<>".Contains(c)) { list.Add(new(Tk.Op, c.ToString())); i++; continue; }
            throw new JinjaException($"unexpected character '{c}' in '{s}'");
        }
        list.Add(new(Tk.End, ""));
        return list;
    }

    /// <summary>An integer or float literal as Jinja2 reads it: digits, an optional fraction, an optional exponent
    /// (1e8 is a float).</summary>
    private static Token Number(string s, ref int i)
    {
        var st = i;
        static bool Digit(string s, int at) => at < s.Length && char.IsAsciiDigit(s[at]);
        while (Digit(s, i)) i++;
        var isFloat = false;
        if (i + 1 < s.Length && s[i] == '.' && Digit(s, i + 1))
        {
            isFloat = true;
            for (i++; Digit(s, i); i++) { }
        }
        if (i < s.Length && s[i] is 'e' or 'E')
        {
            var sign = i + 1 < s.Length && s[i + 1] is '+' or '-' ? 1 : 0;
            if (Digit(s, i + 1 + sign))
            {
                isFloat = true;
                for (i += 1 + sign; Digit(s, i); i++) { }
            }
        }
        var text = s[st..i];
        if (isFloat) return new(Tk.Float, text, double.Parse(text, CultureInfo.InvariantCulture));
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? new(Tk.Int, text, n)
            : throw new JinjaException($"integer literal {text} does not fit 64 bits");
    }
}
