using System.Text;

namespace Vib3.Models.Tokenization;

/// <summary>What every vib3 tokenizer does alike around its own encoder: BOS in front on request, the set of ids that
/// end a turn, and text from token bytes.</summary>
internal static class TokenIds
{
    /// <summary><paramref name="ids"/>, with <paramref name="bos"/> first when asked for and the tokenizer has one.</summary>
    public static IReadOnlyList<int> WithBos(IReadOnlyList<int> ids, bool addBos, int? bos)
    {
        if (!addBos || bos is not { } b) return ids;
        var result = new List<int>(ids.Count + 1) { b };
        result.AddRange(ids);
        return result;
    }

    /// <summary>The listed ids that are inside the vocabulary, and eos.</summary>
    public static HashSet<int> EndOfGeneration(IEnumerable<int> listed, int? eos, int vocab)
    {
        HashSet<int> set = [.. listed.Where(i => i >= 0 && i < vocab)];
        if (eos is { } e) set.Add(e);
        return set;
    }

    /// <summary>The UTF-8 text of the ids' bytes (<paramref name="table"/>[id]; ids outside it add nothing) joined, so a
    /// character split across tokens decodes whole.</summary>
    public static string Decode(IReadOnlyList<int> ids, byte[][] table)
    {
        var buffer = new List<byte>();
        foreach (var id in ids)
            if ((uint)id < (uint)table.Length) buffer.AddRange(table[id]);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
