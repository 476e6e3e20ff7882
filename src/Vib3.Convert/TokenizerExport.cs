using System.Text.Json;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Core.IO;
using Vib3.Storage.Catalog;

namespace Vib3.Convert;

/// <summary>Puts the checkpoint's tokenizer beside the pages (&lt;store&gt;/tokenizer/), so a stored model is
/// complete without its source. HF files are copied verbatim (only regular files, each within its kind's size
/// limit); a GGUF file's tokenizer.ggml.* metadata is saved as gguf-tokenizer.json (key → value, arrays as JSON
/// arrays), after checking that no two tokens have the same text.</summary>
public static class TokenizerExport
{
    private static readonly (string Name, long MaxBytes)[] HfFiles =
    [
        ("tokenizer.json", ModelFileLimits.TokenizerJsonBytes),
        ("tokenizer.model", ModelFileLimits.TokenizerModelBytes),
        ("tokenizer_config.json", ModelFileLimits.ConfigJsonBytes),
        ("special_tokens_map.json", ModelFileLimits.ConfigJsonBytes),
        ("generation_config.json", ModelFileLimits.ConfigJsonBytes),
        ("vocab.json", ModelFileLimits.TokenizerJsonBytes),
        ("merges.txt", ModelFileLimits.TokenizerJsonBytes),
        ("tiktoken.model", ModelFileLimits.TokenizerModelBytes),       // Kimi K2's tiktoken vocabulary (it ships no tokenizer.json)
        ("chat_template.jinja", ModelFileLimits.ChatTemplateBytes),   // newer checkpoints keep the chat template beside tokenizer_config.json
    ];

    public const string GgufFileName = "gguf-tokenizer.json";

    public static TokenizerInfo Export(ICheckpointReader reader, string dir)
    {
        Directory.CreateDirectory(dir);
        return reader is GgufCheckpoint g ? FromGguf(g, dir) : FromHf(ModelConverter.CheckpointFolder(reader), dir);
    }

    private static TokenizerInfo FromHf(string folder, string dir)
    {
        var present = HfFiles.Where(f => File.Exists(Path.Combine(folder, f.Name))).ToList();
        var files = present.Select(f => f.Name).ToList();
        if (!files.Contains("tokenizer.json") && !files.Contains("tokenizer.model") && !files.Contains("tiktoken.model"))
            throw new Vib3Exception(SqlState.UndefinedObject,
                $"{folder}: no tokenizer (tokenizer.json, tokenizer.model or tiktoken.model); vib3 needs the model's tokenizer");
        foreach (var (name, maxBytes) in present)
            File.WriteAllBytes(Path.Combine(dir, name), UntrustedFile.ReadAllBytes(Path.Combine(folder, name), maxBytes));
        return new TokenizerInfo { Kind = "hf", Files = files };
    }

    private static TokenizerInfo FromGguf(GgufCheckpoint file, string dir)
    {
        var keys = file.Metadata.Keys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (!keys.Contains("tokenizer.ggml.tokens"))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{file.Path}: no tokenizer (metadata tokenizer.ggml.tokens is missing)");
        TokenizerVocabulary.EnsureDistinct(file.GetStringArray("tokenizer.ggml.tokens"), file.Path, "tokenizer.ggml.tokens");
        using (var fs = new FileStream(Path.Combine(dir, GgufFileName), FileMode.CreateNew, FileAccess.Write))
        using (var json = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            foreach (var key in keys)
            {
                json.WritePropertyName(key);
                WriteValue(json, file.Path, key, file.Metadata[key]);
            }
            json.WriteEndObject();
        }
        return new TokenizerInfo { Kind = "gguf", Files = [GgufFileName] };
    }

    private static void WriteValue(Utf8JsonWriter json, string file, string key, GgufValue v)
    {
        if (v.IsArray)
        {
            json.WriteStartArray();
            if (v.Value is string[] strings) foreach (var s in strings) json.WriteStringValue(s);
            else if (v.Value is ulong[] unsigned) foreach (var u in unsigned) json.WriteNumberValue(u);
            else if (GgufValue.IsFloat(v.ElementType)) foreach (var f in v.GetFloatArray()) json.WriteNumberValue((float)Finite(file, key, f));
            else if (GgufValue.IsInteger(v.ElementType)) foreach (var i in v.GetIntArray()) json.WriteNumberValue(i);
            json.WriteEndArray();
            return;
        }
        switch (v.Value)
        {
            case string s: json.WriteStringValue(s); break;
            case bool b: json.WriteBooleanValue(b); break;
            case ulong u: json.WriteNumberValue(u); break;
            default:
                if (GgufValue.IsFloat(v.Type)) json.WriteNumberValue(Finite(file, key, v.GetFloat()));
                else json.WriteNumberValue(v.GetInt());
                break;
        }
    }

    /// <summary>JSON has no infinities: ±∞ (a score that never wins) becomes the largest finite value of its sign,
    /// which orders the same; NaN orders nothing and is refused.</summary>
    private static double Finite(string file, string key, double x) => double.IsNaN(x)
        ? throw new Vib3Exception(SqlState.InvalidParameterValue, $"{file}: metadata '{key}' holds NaN")
        : double.IsInfinity(x) ? (x > 0 ? float.MaxValue : float.MinValue) : x;
}
