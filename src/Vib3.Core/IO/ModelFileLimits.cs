namespace Vib3.Core.IO;

/// <summary>How large each kind of text file in a model folder may be before vib3 refuses to read it (54000). Each is
/// several times the largest real file of its kind, so no published model meets them; they exist so that a hostile
/// folder (config.json a symlink to a huge file, a sparse file) cannot make vib3 allocate without bound.</summary>
public static class ModelFileLimits
{
    /// <summary>config.json, tokenizer_config.json, generation_config.json, special_tokens_map.json: real ones are at
    /// most a few hundred KiB (a tokenizer_config.json listing 256 k added tokens is ~2 MiB).</summary>
    public const long ConfigJsonBytes = 16L << 20;

    /// <summary>tokenizer.json, vocab.json, merges.txt, vib3's gguf-tokenizer.json: 7–9 MiB for 128–150 k token
    /// vocabularies, ~33 MiB for Gemma 3's 262 k.</summary>
    public const long TokenizerJsonBytes = 128L << 20;

    /// <summary>tokenizer.model (SentencePiece) and tiktoken.model: a few MiB (Gemma 3's is 4.5 MiB).</summary>
    public const long TokenizerModelBytes = 64L << 20;

    /// <summary>model.safetensors.index.json: ~9 MiB for DeepSeek-V3's 91 k tensors.</summary>
    public const long SafetensorsIndexBytes = 64L << 20;

    /// <summary>chat_template.jinja: real templates are a few KiB to a few tens of KiB.</summary>
    public const long ChatTemplateBytes = 4L << 20;
}
