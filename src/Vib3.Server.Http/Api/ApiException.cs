namespace Vib3.Server.Http.Api;

/// <summary>An error answered in OpenAI's shape: <c>{"error":{"message","type","param","code"}}</c> with an HTTP status.</summary>
internal sealed class ApiException(int status, string type, string? code, string message, string? param = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    public string? Param { get; } = param;

    /// <summary>A request field with a value the API does not accept (400, <c>param</c> names the field).</summary>
    public static ApiException Invalid(string param, string message) =>
        new(400, "invalid_request_error", "invalid_value", message, param);

    /// <summary>A request field the engine cannot honour; refused rather than silently ignored.</summary>
    public static ApiException Unsupported(string param, string message) =>
        new(501, "invalid_request_error", "unsupported_parameter", message, param);

    public static ApiException NotReady(string message) => new(503, "server_error", "not_ready", message);
}
