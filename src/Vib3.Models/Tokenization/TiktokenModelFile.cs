using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Models.Tokenization;

/// <summary>A tiktoken BPE file (Kimi K2's tiktoken.model): one "base64(token bytes) rank" per line, where the rank is
/// both the token id and its merge priority. Read here, not only by Microsoft.ML.Tokenizers, so that a malformed file is
/// reported by line number and so that every id's bytes are at hand for decoding.</summary>
public static class TiktokenModelFile
{
    /// <summary>Token bytes by rank. Ranks must be 0..n-1 for n tokens, each once, and no two lines may hold the same
    /// bytes: a gap or a repeat would give an id without text or text with two ids. A rank of n or more is refused as
    /// it is read (so no table is ever sized by a rank in the file).</summary>
    public static byte[][] Read(string path)
    {
        var lines = UntrustedFile.ReadAllText(path, ModelFileLimits.TokenizerModelBytes).Split('\n');
        var count = lines.Count(l => l.TrimEnd('\r').Length > 0);
        if (count == 0) throw new Vib3Exception(SqlState.DataCorrupted, $"{path}: the tiktoken file holds no tokens");
        var byRank = new byte[]?[count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            var (bytes, rank) = ParseLine(path, i + 1, line);
            if (!seen.Add(Convert.ToBase64String(bytes)))
                throw Malformed(path, i + 1, "these token bytes already appear on an earlier line");
            if (rank >= count) throw Malformed(path, i + 1, $"rank {rank} is beyond the {count} tokens the file lists (ranks run 0..{count - 1})");
            if (byRank[rank] is not null) throw Malformed(path, i + 1, $"rank {rank} already appears on an earlier line");
            byRank[rank] = bytes;
        }
        return byRank.Select(b => b!).ToArray();
    }

    private static (byte[] Bytes, int Rank) ParseLine(string path, int lineNumber, string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || space != line.LastIndexOf(' '))
            throw Malformed(path, lineNumber, "expected 'base64 rank' (two fields separated by one space)");
        byte[] bytes;
        try { bytes = Convert.FromBase64String(line[..space]); }
        catch (FormatException) { throw Malformed(path, lineNumber, $"'{Clip(line[..space])}' is not base64"); }
        if (bytes.Length == 0) throw Malformed(path, lineNumber, "a token with no bytes");
        if (!int.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rank))
            throw Malformed(path, lineNumber, $"rank '{Clip(line[(space + 1)..])}' is not a non-negative integer");
        return (bytes, rank);
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static Vib3Exception Malformed(string path, int line, string what) =>
        new(SqlState.DataCorrupted, $"{path}: line {line}: {what}");
}
