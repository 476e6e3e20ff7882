using System.Text.Json;
using Vib3.Core;

namespace Vib3.Models.Tokenization;

/// <summary>The token ids a tokenizer being loaded may use: below the model's vocabulary when it is known, else below
/// <see cref="TokenizerLoader.MaxVocabSize"/>. Every id is checked as it is read, before a table is sized by it, so a
/// hostile file gets one clear error instead of a list grown to its id or an index out of range.</summary>
internal readonly struct IdRange(int? modelVocab)
{
    public int Limit { get; } = modelVocab ?? TokenizerLoader.MaxVocabSize;

    private string Bound => modelVocab is null
        ? $"the {Limit} ids vib3 accepts in a tokenizer"
        : $"the model's vocabulary of {Limit} ids";

    /// <summary>A JSON token id: a whole number in [0, Limit).</summary>
    public int Check(string file, string what, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Number)
            throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: {what} has a token id that is not a number ({value.ValueKind})");
        if (!value.TryGetInt64(out var id))
            throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: {what} has a token id that is not a whole number in range");
        return Check(file, what, id);
    }

    public int Check(string file, string what, long id) => id >= 0 && id < Limit
        ? (int)id
        : throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: {what} has token id {id}, outside {Bound} (0 to {Limit - 1})");

    /// <summary>A list of <paramref name="count"/> tokens fits the range.</summary>
    public void CheckCount(string file, string what, int count)
    {
        if (count > Limit)
            throw new Vib3Exception(SqlState.DataCorrupted, $"{file}: {what} lists {count} tokens, more than {Bound}");
    }
}
