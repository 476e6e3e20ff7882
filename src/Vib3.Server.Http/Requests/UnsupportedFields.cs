using System.Text.Json;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Requests;

/// <summary>OpenAI fields vib3 cannot honour. Each is refused (501, naming the field) unless it holds the value that
/// means "off", so a client never gets a silently different behaviour than it asked for.</summary>
internal static class UnsupportedFields
{
    public static void Reject(JsonFields f, int n)
    {
        foreach (var name in new[] { "tools", "functions" })
            if (f.Get(name) is { } v && !(v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0))
                throw ApiException.Unsupported(name, $"'{name}' (tool and function calling) is not supported");
        foreach (var name in new[] { "tool_choice", "function_call" })
            if (f.Get(name) is { } v && !(v.ValueKind == JsonValueKind.String && v.GetString() is "none" or "auto"))
                throw ApiException.Unsupported(name, $"'{name}' (tool and function calling) is not supported");
        if (f.Object("response_format") is { } format && format.String("type") is { } type and not "text")
            throw ApiException.Unsupported("response_format", $"'response_format' of type '{type}' (constrained output) is not supported");
        if (f.Get("logit_bias") is { } bias && !(bias.ValueKind == JsonValueKind.Object && !bias.EnumerateObject().Any()))
            throw ApiException.Unsupported("logit_bias", "'logit_bias' is not supported");
        if (f.String("suffix") is { Length: > 0 })
            throw ApiException.Unsupported("suffix", "'suffix' (insertion) is not supported");
        if (f.Bool("echo") == true)
            throw ApiException.Unsupported("echo", "'echo' is not supported");
        if (f.Integer("best_of", 1, int.MaxValue) is { } bestOf && bestOf != n)
            throw bestOf < n
                ? ApiException.Invalid("best_of", $"'best_of' ({bestOf}) must be at least 'n' ({n})")
                : ApiException.Unsupported("best_of", "'best_of' greater than 'n' (server-side ranking) is not supported");
    }
}
