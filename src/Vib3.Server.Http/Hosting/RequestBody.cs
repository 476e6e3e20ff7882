using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Hosting;

/// <summary>Reads a request body as JSON, turning malformed JSON and oversized bodies into OpenAI errors.</summary>
internal static class RequestBody
{
    public static async Task<JsonDocument> ReadJsonAsync(HttpContext ctx, long maxBytes)
    {
        try
        {
            return await JsonDocument.ParseAsync(ctx.Request.Body, default, ctx.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, "invalid_request_error", "invalid_json", "the request body is not valid JSON: " + e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(413, "invalid_request_error", "request_too_large", $"the request body is larger than {maxBytes} bytes");
        }
    }
}
