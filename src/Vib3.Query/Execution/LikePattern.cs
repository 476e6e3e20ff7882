using System.Text;
using Vib3.Core;

namespace Vib3.Query.Execution;

/// <summary>
/// A compiled LIKE pattern, as in Postgres: <c>%</c> matches any run of characters (also none),
/// <c>_</c> exactly one character (a Unicode code point), backslash makes the next character literal;
/// everything else matches itself, case-sensitively.
/// </summary>
internal sealed class LikePattern
{
    public const string InvalidEscapeSequence = "22025";

    private const int AnyOne = -1;
    private const int AnyRun = -2;

    private readonly int[] _tokens;

    private LikePattern(int[] tokens) => _tokens = tokens;

    /// <exception cref="Vib3Exception">22025 when the pattern ends with a lone backslash.</exception>
    public static LikePattern Compile(string pattern, SourcePosition position)
    {
        var tokens = new List<int>();
        bool escaped = false;
        foreach (Rune rune in pattern.EnumerateRunes())
        {
            int c = rune.Value;
            if (escaped)
            {
                tokens.Add(c);
                escaped = false;
            }
            else if (c == '\\')
            {
                escaped = true;
            }
            else if (c == '%')
            {
                if (tokens.Count == 0 || tokens[^1] != AnyRun)
                {
                    tokens.Add(AnyRun); // %% is %
                }
            }
            else
            {
                tokens.Add(c == '_' ? AnyOne : c);
            }
        }
        if (escaped)
        {
            throw new Vib3Exception(InvalidEscapeSequence, $"LIKE pattern must not end with escape character at line {position}");
        }
        return new LikePattern([.. tokens]);
    }

    /// <summary>Whether <paramref name="text"/> matches the whole pattern.</summary>
    public bool IsMatch(string text)
    {
        int[] s = Runes(text);
        int[] p = _tokens;
        int si = 0, pi = 0;
        int starP = -1, starS = 0; // the last % seen and where its match started
        while (si < s.Length)
        {
            if (pi < p.Length && p[pi] == AnyRun)
            {
                starP = pi++;
                starS = si;
            }
            else if (pi < p.Length && (p[pi] == AnyOne || p[pi] == s[si]))
            {
                pi++;
                si++;
            }
            else if (starP >= 0)
            {
                pi = starP + 1; // let the last % absorb one more character
                si = ++starS;
            }
            else
            {
                return false;
            }
        }
        while (pi < p.Length && p[pi] == AnyRun)
        {
            pi++;
        }
        return pi == p.Length;
    }

    private static int[] Runes(string text)
    {
        var result = new List<int>(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
        {
            result.Add(rune.Value);
        }
        return [.. result];
    }
}
