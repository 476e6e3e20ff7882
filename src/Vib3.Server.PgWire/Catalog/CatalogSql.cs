using System.Text;
using System.Text.RegularExpressions;

namespace Vib3.Server.PgWire.Catalog;

/// <summary>One item of a SELECT list: its expression (whitespace collapsed, lower case) and its output name.</summary>
internal sealed record SelectItem(string Expr, string Name)
{
    public string Key => Name.ToLowerInvariant();
}

/// <summary>Just enough SQL lexing to recognise catalog queries: split a text into statements (comments dropped,
/// quotes respected), collapse whitespace, and read a statement's top-level SELECT list.</summary>
internal static partial class CatalogSql
{
    /// <summary>The statements of <paramref name="sql"/>, comments removed and whitespace collapsed (case kept).</summary>
    public static List<string> Split(string sql)
    {
        var statements = new List<string>();
        var current = new StringBuilder();
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c == '-' && At(sql, i + 1, '-'))
            {
                while (i < sql.Length && sql[i] != '\n') i++;
                current.Append(' ');
            }
            else if (c == '/' && At(sql, i + 1, '*'))
            {
                var depth = 0;
                do
                {
                    if (sql[i] == '/' && At(sql, i + 1, '*')) { depth++; i += 2; }
                    else if (sql[i] == '*' && At(sql, i + 1, '/')) { depth--; i += 2; }
                    else i++;
                } while (depth > 0 && i < sql.Length);
                current.Append(' ');
            }
            else if (c is '\'' or '"')
            {
                var escapes = c == '\'' && i > 0 && sql[i - 1] is 'e' or 'E' && (i < 2 || !IsWordChar(sql[i - 2]));
                var end = QuoteEnd(sql, i, c, escapes);
                current.Append(sql, i, end - i);
                i = end;
            }
            else if (c == '$' && DollarTag().Match(sql, i) is { Success: true } tag && (i == 0 || !IsWordChar(sql[i - 1])))
            {
                var close = sql.IndexOf(tag.Value, i + tag.Length, StringComparison.Ordinal);
                var end = close < 0 ? sql.Length : close + tag.Length;
                current.Append(sql, i, end - i);
                i = end;
            }
            else if (c == ';')
            {
                Add(statements, current);
                i++;
            }
            else
            {
                current.Append(char.IsWhiteSpace(c) ? ' ' : c);
                i++;
            }
        }
        Add(statements, current);
        return statements;
    }

    private static void Add(List<string> statements, StringBuilder current)
    {
        var text = Spaces().Replace(current.ToString(), " ").Trim();
        if (text.Length > 0) statements.Add(text);
        current.Clear();
    }

    private static bool At(string s, int i, char c) => i < s.Length && s[i] == c;

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>The index just past the quoted text that starts at <paramref name="start"/>.</summary>
    private static int QuoteEnd(string s, int start, char quote, bool backslashEscapes)
    {
        var i = start + 1;
        while (i < s.Length)
        {
            if (backslashEscapes && s[i] == '\\') { i += 2; continue; }
            if (s[i] == quote)
            {
                if (At(s, i + 1, quote)) { i += 2; continue; }
                return i + 1;
            }
            i++;
        }
        return s.Length;
    }

    /// <summary>The top-level SELECT list of a statement, or null when it is not a SELECT.</summary>
    public static List<SelectItem>? SelectList(string statement)
    {
        var m = SelectStart().Match(statement);
        if (!m.Success) return null;
        var items = new List<string>();
        var depth = 0;
        var start = m.Length;
        var i = start;
        for (; i < statement.Length; i++)
        {
            var c = statement[i];
            if (c is '\'' or '"') { i = QuoteEnd(statement, i, c, false) - 1; continue; }
            if (c == '(') depth++;
            else if (c == ')') depth--;
            else if (depth == 0 && c == ',') { items.Add(statement[start..i]); start = i + 1; }
            else if (depth == 0 && (i == 0 || !IsWordChar(statement[i - 1])) && IsKeyword(statement, i, "from")) break;
        }
        items.Add(statement[start..i]);
        return items.Select(x => x.Trim()).Where(x => x.Length > 0).Select(Item).ToList();
    }

    private static bool IsKeyword(string s, int i, string word) =>
        i + word.Length <= s.Length && string.Compare(s, i, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0
        && (i + word.Length == s.Length || !IsWordChar(s[i + word.Length]));

    private static SelectItem Item(string text)
    {
        var alias = AliasPattern().Match(text);
        if (alias.Success && Depth(text, alias.Index) == 0)
        {
            var name = alias.Groups[2].Success ? alias.Groups[2].Value.Replace("\"\"", "\"") : alias.Groups[3].Value.ToLowerInvariant();
            return new SelectItem(text[..alias.Index].Trim().ToLowerInvariant(), name);
        }
        var expr = text.ToLowerInvariant();
        var column = ColumnRef().Match(expr);
        if (column.Success) return new SelectItem(expr, column.Groups[1].Value);
        var call = FunctionCall().Match(expr);
        if (call.Success && call.Groups[1].Value is not ("case" or "select")) return new SelectItem(expr, call.Groups[1].Value);
        return new SelectItem(expr, expr.StartsWith("case", StringComparison.Ordinal) ? "case" : "?column?");
    }

    private static int Depth(string s, int end)
    {
        var depth = 0;
        for (var i = 0; i < end; i++)
        {
            if (s[i] is '\'' or '"') { i = QuoteEnd(s, i, s[i], false) - 1; continue; }
            if (s[i] == '(') depth++;
            else if (s[i] == ')') depth--;
        }
        return depth;
    }

    /// <summary>The regular expression psql (or a user) matches <paramref name="column"/> against
    /// (<c>col OPERATOR(pg_catalog.~) '^(x)$'</c>, <c>col ~ '...'</c>) or an equality (<c>col = 'x'</c>), as a .NET regex.</summary>
    public static Regex? Filter(string statement, string column)
    {
        var m = Regex.Match(statement,
            @"(?:\b\w+\.)?\b" + Regex.Escape(column) + @"\s*(?:OPERATOR\s*\(\s*pg_catalog\.~\s*\)|~|(=))\s*'((?:[^']|'')*)'",
            RegexOptions.IgnoreCase);
        if (!m.Success) return null;
        var value = m.Groups[2].Value.Replace("''", "'");
        try
        {
            return m.Groups[1].Success ? new Regex("^" + Regex.Escape(value) + "$") : new Regex(value);
        }
        catch (ArgumentException)
        {
            return new Regex("(?!)"); // an unreadable pattern matches nothing
        }
    }

    /// <summary>The oid in <c>alias.column = 'N'</c> (or = N), if present.</summary>
    public static long? OidEquals(string statement, string qualifiedColumn)
    {
        var m = Regex.Match(statement, Regex.Escape(qualifiedColumn) + @"\s*=\s*'?(\d+)'?", RegexOptions.IgnoreCase);
        return m.Success && long.TryParse(m.Groups[1].Value, out var oid) ? oid : null;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();

    [GeneratedRegex(@"\G\$([A-Za-z_][A-Za-z0-9_]*)?\$")]
    private static partial Regex DollarTag();

    [GeneratedRegex(@"^\s*select\s+(?:distinct\s+)?", RegexOptions.IgnoreCase)]
    private static partial Regex SelectStart();

    [GeneratedRegex(@"\s(as)\s+(?:""((?:[^""]|"""")*)""|([A-Za-z_][A-Za-z0-9_$]*))\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex AliasPattern();

    [GeneratedRegex(@"^(?:[a-z_][a-z0-9_]*\.)*([a-z_][a-z0-9_]*)$")]
    private static partial Regex ColumnRef();

    [GeneratedRegex(@"^(?:[a-z_][a-z0-9_]*\.)*([a-z_][a-z0-9_]*)\s*\(")]
    private static partial Regex FunctionCall();
}
