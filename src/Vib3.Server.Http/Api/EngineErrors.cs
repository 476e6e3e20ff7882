using Vib3.Core;

namespace Vib3.Server.Http.Api;

/// <summary>Maps the engine's SQLSTATE-coded errors onto HTTP statuses and OpenAI error types.</summary>
internal static class EngineErrors
{
    public static ApiException ToApi(Vib3Exception e) => e.SqlState switch
    {
        SqlState.UndefinedObject => new(404, "invalid_request_error", "model_not_found", e.Message, "model"),
        SqlState.InvalidParameterValue or SqlState.SyntaxError => new(400, "invalid_request_error", "invalid_value", e.Message),
        SqlState.ProgramLimitExceeded when e.InnerException is Models.Tokenization.JinjaException =>
            new(400, "invalid_request_error", "chat_template_limit_exceeded", e.Message),
        SqlState.ProgramLimitExceeded => new(400, "invalid_request_error", "context_length_exceeded", e.Message),
        SqlState.InsufficientResources => new(429, "rate_limit_error", "queue_full", e.Message),
        SqlState.FeatureNotSupported => new(501, "invalid_request_error", "unsupported", e.Message),
        _ => new(500, "server_error", "internal_error", e.Message),
    };
}
