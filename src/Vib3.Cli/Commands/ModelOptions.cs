using System.CommandLine;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Models.Inference;

namespace Vib3.Cli.Commands;

/// <summary>Options of the commands that run a model.</summary>
internal static class ModelOptions
{
    public static Option<string> Model() => new("--model") { Description = "Name of a stored model (see: vib3 models)", Required = true };

    public static Option<int?> Context() => new("--context")
    {
        Description = "Most tokens a sequence may hold, prompt and generated (default: the model's context length)",
    };

    public static Option<string> KvCache() => new("--kv-cache")
    {
        Description = "KV cache element type: f32 (default) or f16",
        DefaultValueFactory = _ => "f32",
    };

    /// <summary>The engine the command runs its statement on: the global options (data folder, RAM budget, cache
    /// policy) with the context limit and KV cache type given; a context beyond the model's is refused rather than cut.</summary>
    public static EngineOptions EngineOptions(ParseResult r, Option<string> model, Option<int?> context, Option<string> kvCache)
    {
        if (r.GetValue(context) is { } c)
        {
            if (c < 1) throw new Vib3Exception(SqlState.InvalidParameterValue, $"--context must be at least 1 token, not {c}");
            var catalog = GlobalOptions.Catalog(r);
            if (r.GetValue(model) is { } name && catalog.Exists(name) && catalog.Get(name).Hyper.Context is > 0 and var own && c > own)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"a context of {c} tokens exceeds model '{name}''s context length {own}");
        }
        return GlobalOptions.EngineOptions(r, GlobalOptions.Catalog(r).DataDir) with
        {
            MaxContext = r.GetValue(context), KvCache = KvCacheTypeOf(r, kvCache),
        };
    }

    public static KvCacheType KvCacheTypeOf(ParseResult r, Option<string> kvCache) => r.GetValue(kvCache) switch
    {
        "f32" => KvCacheType.F32,
        "f16" => KvCacheType.F16,
        var other => throw new Vib3Exception(SqlState.InvalidParameterValue, $"--kv-cache '{other}': use f32 or f16"),
    };

    /// <summary>"1,5,9" → [1, 5, 9] with an error naming the bad item.</summary>
    public static int[] ParseTokens(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new Vib3Exception(SqlState.InvalidParameterValue, "--tokens needs at least one token id (e.g. 1,5,9)");
        return parts.Select(p => int.TryParse(p, out var id) && id >= 0
            ? id
            : throw new Vib3Exception(SqlState.InvalidParameterValue, $"--tokens: '{p}' is not a token id")).ToArray();
    }
}
