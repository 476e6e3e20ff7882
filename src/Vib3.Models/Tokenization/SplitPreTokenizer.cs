using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Vib3.Models.Tokenization;

/// <summary>Hugging Face pre-tokenization for byte-level BPE: special (added) tokens are cut out whole first, then
/// the rest is split by each regex in turn with the "Isolated" behaviour — every match is a piece and so is every
/// gap between matches, so no text is ever dropped.</summary>
public sealed class SplitPreTokenizer : PreTokenizer
{
    private readonly Regex[] _splits;
    private readonly Regex? _specials;

    public SplitPreTokenizer(IReadOnlyList<string> patterns, IEnumerable<string> specialTokens)
    {
        _splits = patterns.Select(p => new Regex(p, RegexOptions.Compiled | RegexOptions.CultureInvariant)).ToArray();
        var specials = specialTokens.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length).ThenBy(s => s, StringComparer.Ordinal).Select(Regex.Escape).ToList();
        _specials = specials.Count == 0 ? null : new Regex(string.Join("|", specials), RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    public IReadOnlyList<Regex> Patterns => _splits;

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => PreTokenize(text.ToString());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text)
    {
        var result = new List<(int, int)>();
        if (string.IsNullOrEmpty(text)) return result;
        var at = 0;
        if (_specials is not null)
            foreach (Match m in _specials.Matches(text))
            {
                SplitOrdinary(text, at, m.Index - at, 0, result);
                result.Add((m.Index, m.Length));
                at = m.Index + m.Length;
            }
        SplitOrdinary(text, at, text.Length - at, 0, result);
        return result;
    }

    private void SplitOrdinary(string text, int start, int length, int level, List<(int, int)> output)
    {
        if (length <= 0) return;
        if (level == _splits.Length)
        {
            output.Add((start, length));
            return;
        }
        var at = start;
        var end = start + length;
        for (var m = _splits[level].Match(text, start, length); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            SplitOrdinary(text, at, m.Index - at, level + 1, output);
            SplitOrdinary(text, m.Index, m.Length, level + 1, output);
            at = m.Index + m.Length;
        }
        SplitOrdinary(text, at, end - at, level + 1, output);
    }
}
