using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>Checks a stored tokenizer's vocabulary must pass, shared by conversion (which refuses the model before it
/// is published) and loading (which refuses a store converted before the check existed).</summary>
public static class TokenizerVocabulary
{
    /// <summary>Refuses a vocabulary in which two ids have the same text: encoding could not tell which id a piece
    /// is, and the tokenizer libraries fail on it at the first generation, far from the cause.</summary>
    public static void EnsureDistinct(IReadOnlyList<string> tokens, string origin, string field)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var first = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (var id = 0; id < tokens.Count; id++)
            if (!first.TryAdd(tokens[id], id))
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"{origin}: {field} has the same text at token ids {first[tokens[id]]} and {id}; every token must be distinct");
    }
}
