using System.Text.Json;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;

namespace Vib3.Convert;

/// <summary>The checkpoint's chat template, checked before conversion writes anything: serving renders it inside
/// the server, so one that reaches a <see cref="JinjaLimits"/> limit (hostile or broken) is refused here rather than
/// published. The template is read where serving will find it once exported: GGUF's tokenizer.chat_template, or the
/// folder's tokenizer_config.json chat_template / chat_template.jinja.</summary>
internal static class ChatTemplateCheck
{
    private const string GgufKey = "tokenizer.chat_template";

    public static void Check(ICheckpointReader reader)
    {
        if (reader is GgufCheckpoint g)
        {
            // serving reads the key only when it is a string (TokenizerExport keeps it as such)
            if (g.TryGet(GgufKey, out var v) && v.Type == GgufValueType.String)
                ChatTemplates.Validate(v.GetString(), $"{g.Path}: {GgufKey}");
            return;
        }
        var folder = ModelConverter.CheckpointFolder(reader);
        ChatTemplateSource source;
        try
        {
            source = ChatTemplateSource.Load(folder, new TokenizerInfo { Kind = "hf" });
        }
        catch (JsonException e)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Path.Combine(folder, "tokenizer_config.json")}: not valid JSON ({e.Message})");
        }
        ChatTemplates.Validate(source.Template, $"{folder}: chat template");
    }
}
