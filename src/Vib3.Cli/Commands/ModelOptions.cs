using System.CommandLine;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Storage.Tracing;

namespace Vib3.Cli.Commands;

/// <summary>Options of the commands that run a model.</summary>
internal static class ModelOptions
{
    public static Option<string> Model() => new("--model") { Description = "Name of a stored model (see: vib3 models)", Required = true };

    public static Option<int?> Context() => new("--context")
    {
        Description = "KV cache length in tokens (default: the model's context length)",
    };

    public static Option<string> KvCache() => new("--kv-cache")
    {
        Description = "KV cache element type: f32 (default) or f16",
        DefaultValueFactory = _ => "f32",
    };

    /// <param name="trace">Where the store records its reads (vib3 bench --trace); null records nothing.</param>
    public static Task<InferenceSession> OpenAsync(
        ParseResult r, Option<string> model, Option<int?> context, Option<string> kvCache, CancellationToken ct,
        PageTraceWriter? trace = null)
    {
        var catalog = GlobalOptions.Catalog(r);
        var kv = r.GetValue(kvCache) switch
        {
            "f32" => KvCacheType.F32,
            "f16" => KvCacheType.F16,
            var other => throw new Vib3Exception(SqlState.InvalidParameterValue, $"--kv-cache '{other}': use f32 or f16"),
        };
        var options = GlobalOptions.StoreOptions(r);
        options.Trace = trace;
        return InferenceSession.OpenAsync(catalog, r.GetValue(model)!, options, r.GetValue(context), ct, kv);
    }

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
