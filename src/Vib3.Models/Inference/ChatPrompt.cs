using Vib3.Models.Tokenization;
using Vib3.Models.Weights;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>A chat prompt: its text, whether BOS must still be added (null: the tokenizer's default), and which
/// template rendered it (the model's own, or the family's built-in and why), for EXPLAIN, logs and HTTP headers.</summary>
public sealed record ChatPromptText(string Text, bool? AddBos, ChatRender Template);

/// <summary>Chat messages as one prompt: the model's own template (tokenizer_config.json or GGUF
/// tokenizer.chat_template), else its family's built-in one. BOS is not added again when the template wrote it.</summary>
public static class ChatPrompt
{
    /// <summary>Renders <paramref name="messages"/>; <paramref name="ct"/> is the request's, so a client that goes
    /// away stops the render (a hostile template cannot keep a core busy after it).</summary>
    public static ChatPromptText Render(ModelWeights weights, IReadOnlyList<(string Role, string Content)> messages,
        CancellationToken ct) => Render(weights.TokenizerDir, weights.Manifest, messages, ct);

    /// <summary>Renders with a stored model's tokenizer folder and manifest, without opening its pages (EXPLAIN).</summary>
    public static ChatPromptText Render(string tokenizerDir, ModelManifest manifest, IReadOnlyList<(string Role, string Content)> messages,
        CancellationToken ct)
    {
        var source = ChatTemplateSource.Load(tokenizerDir, manifest.Tokenizer);
        var render = ChatTemplates.RenderDetailed(manifest.Family, messages, addGenerationPrompt: true,
            source.Template, source.BosToken, source.EosToken, ct);
        var startsWithBos = !string.IsNullOrEmpty(source.BosToken) && render.Text.StartsWith(source.BosToken, StringComparison.Ordinal);
        return new ChatPromptText(render.Text, startsWithBos ? false : null, render);
    }
}
