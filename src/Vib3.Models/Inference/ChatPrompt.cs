using Vib3.Models.Tokenization;
using Vib3.Models.Weights;

namespace Vib3.Models.Inference;

/// <summary>Chat messages as one prompt: the model's own template (tokenizer_config.json or GGUF
/// tokenizer.chat_template), else its family's built-in one. BOS is not added again when the template wrote it.</summary>
public static class ChatPrompt
{
    /// <summary>Renders <paramref name="messages"/>; <paramref name="ct"/> is the request's, so a client that goes
    /// away stops the render (a hostile template cannot keep a core busy after it).</summary>
    public static (string Text, bool? AddBos) Render(ModelWeights weights, IReadOnlyList<(string Role, string Content)> messages,
        CancellationToken ct)
    {
        var source = ChatTemplateSource.Load(weights.TokenizerDir, weights.Manifest.Tokenizer);
        var text = ChatTemplates.Render(weights.Manifest.Family, messages, addGenerationPrompt: true,
            source.Template, source.BosToken, source.EosToken, ct);
        var startsWithBos = !string.IsNullOrEmpty(source.BosToken) && text.StartsWith(source.BosToken, StringComparison.Ordinal);
        return (text, startsWithBos ? false : null);
    }
}
