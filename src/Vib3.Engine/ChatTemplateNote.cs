using Vib3.Models.Inference;
using Vib3.Query.Planning;

namespace Vib3.Engine;

/// <summary>EXPLAIN's "chat template:" line: which template a GENERATE CHAT renders its messages with, the model's
/// own or its family's built-in format and why (a template outside vib3's Jinja subset), so the fallback is never
/// silent. Renders the statement's own messages from the stored tokenizer folder, without opening the model's pages.</summary>
internal static class ChatTemplateNote
{
    /// <summary>Null for a text prompt.</summary>
    public static string? For(Vib3Engine engine, GenerationPlan plan, CancellationToken ct) =>
        plan.Prompt.Messages is { } messages
            ? ChatPrompt.Render(Path.Combine(engine.Catalog.ModelDir(plan.Model), "tokenizer"), plan.Manifest, messages, ct).Template.Describe()
            : null;
}
