using System.Text.Json;
using Vib3.Core.IO;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Tokenization;

/// <summary>The chat template and BOS/EOS texts stored with a model: tokenizer_config.json's chat_template (a string,
/// or a list of {name, template} from which "default" is taken; else chat_template.jinja), bos_token, eos_token; or GGUF's
/// tokenizer.chat_template with the texts of the bos/eos ids. Any part may be null.</summary>
public sealed record ChatTemplateSource(string? Template, string? BosToken, string? EosToken)
{
    /// <summary>Where newer HF checkpoints keep the template instead of tokenizer_config.json's chat_template.</summary>
    public const string ChatTemplateFileName = "chat_template.jinja";

    public static ChatTemplateSource Load(string tokenizerDir, TokenizerInfo info)
    {
        if (info.Kind == "gguf")
        {
            var path = Path.Combine(tokenizerDir, TokenizerLoader.GgufFileName);
            if (!File.Exists(path)) return new(null, null, null);
            using var doc = JsonDocument.Parse(UntrustedFile.ReadAllBytes(path, ModelFileLimits.TokenizerJsonBytes));
            var root = doc.RootElement;
            var template = root.TryGetProperty("tokenizer.chat_template", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            string? Token(string key)
            {
                if (!root.TryGetProperty(key, out var id) || id.ValueKind != JsonValueKind.Number) return null;
                var tokens = root.GetProperty("tokenizer.ggml.tokens");
                var i = id.GetInt32();
                return i >= 0 && i < tokens.GetArrayLength() ? tokens[i].GetString() : null;
            }
            return new(template, Token("tokenizer.ggml.bos_token_id"), Token("tokenizer.ggml.eos_token_id"));
        }
        var config = Path.Combine(tokenizerDir, "tokenizer_config.json");
        if (!File.Exists(config)) return new(null, null, null);
        using var cfg = JsonDocument.Parse(UntrustedFile.ReadAllBytes(config, ModelFileLimits.ConfigJsonBytes));
        string? chat = null;
        if (cfg.RootElement.TryGetProperty("chat_template", out var ct))
        {
            if (ct.ValueKind == JsonValueKind.String) chat = ct.GetString();
            else if (ct.ValueKind == JsonValueKind.Array)
                foreach (var e in ct.EnumerateArray())
                    if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default"
                        && e.TryGetProperty("template", out var tt) && tt.ValueKind == JsonValueKind.String) chat = tt.GetString();
        }
        var jinja = Path.Combine(tokenizerDir, ChatTemplateFileName);
        if (chat is null && File.Exists(jinja)) chat = UntrustedFile.ReadAllText(jinja, ModelFileLimits.ChatTemplateBytes);
        return new(chat, TokenizerLoader.TokenText(cfg, "bos_token"), TokenizerLoader.TokenText(cfg, "eos_token"));
    }
}
