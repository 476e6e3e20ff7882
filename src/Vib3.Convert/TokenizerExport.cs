using System.Text.Json;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert;

/// <summary>Puts the checkpoint's tokenizer beside the pages (&lt;store&gt;/tokenizer/), so a stored model is
/// complete without its source. HF files are copied verbatim; a GGUF file's tokenizer.ggml.* metadata is saved
/// as gguf-tokenizer.json (key → value, arrays as JSON arrays).</summary>
public static class TokenizerExport
{
    private static readonly string[] HfFiles =
    [
        "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
        "generation_config.json", "vocab.json", "merges.txt",
        "tiktoken.model",       // Kimi K2's tiktoken vocabulary (it ships no tokenizer.json)
        "chat_template.jinja",  // newer checkpoints keep the chat template beside tokenizer_config.json
    ];

    public const string GgufFileName = "gguf-tokenizer.json";

    public static TokenizerInfo Export(ICheckpointReader reader, string dir)
    {
        Directory.CreateDirectory(dir);
        return reader is GgufCheckpoint g ? FromGguf(g, dir) : FromHf(ModelConverter.CheckpointFolder(reader), dir);
    }

    private static TokenizerInfo FromHf(string folder, string dir)
    {
        var files = HfFiles.Where(f => File.Exists(Path.Combine(folder, f))).ToList();
        if (!files.Contains("tokenizer.json") && !files.Contains("tokenizer.model") && !files.Contains("tiktoken.model"))
            throw new Vib3Exception(SqlState.UndefinedObject,
                $"{folder}: no tokenizer (tokenizer.json, tokenizer.model or tiktoken.model); vib3 needs the model's tokenizer");
        foreach (var f in files) File.Copy(Path.Combine(folder, f), Path.Combine(dir, f));
        return new TokenizerInfo { Kind = "hf", Files = files };
    }

    private static TokenizerInfo FromGguf(GgufCheckpoint file, string dir)
    {
        var keys = file.Metadata.Keys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (!keys.Contains("tokenizer.ggml.tokens"))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{file.Path}: no tokenizer (metadata tokenizer.ggml.tokens is missing)");
        using (var fs = new FileStream(Path.Combine(dir, GgufFileName), FileMode.CreateNew, FileAccess.Write))
        using (var json = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            foreach (var key in keys)
            {
                json.WritePropertyName(key);
                WriteValue(json, file.Metadata[key]);
            }
            json.WriteEndObject();
        }
        return new TokenizerInfo { Kind = "gguf", Files = [GgufFileName] };
    }

    private static void WriteValue(Utf8JsonWriter json, GgufValue v)
    {
        if (v.IsArray)
        {
            json.WriteStartArray();
            if (v.Value is string[] strings) foreach (var s in strings) json.WriteStringValue(s);
            else if (GgufValue.IsFloat(v.ElementType)) foreach (var f in v.GetFloatArray()) json.WriteNumberValue(f);
            else if (GgufValue.IsInteger(v.ElementType)) foreach (var i in v.GetIntArray()) json.WriteNumberValue(i);
            json.WriteEndArray();
            return;
        }
        switch (v.Type)
        {
            case GgufValueType.String: json.WriteStringValue(v.GetString()); break;
            case GgufValueType.Bool: json.WriteBooleanValue(v.GetBool()); break;
            default:
                if (GgufValue.IsFloat(v.Type)) json.WriteNumberValue(v.GetFloat());
                else json.WriteNumberValue(v.GetInt());
                break;
        }
    }
}
