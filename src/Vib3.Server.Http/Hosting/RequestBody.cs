using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Hosting;

/// <summary>Reads a request body as JSON, turning malformed JSON, oversized bodies and broken transfers into OpenAI errors.</summary>
internal static class RequestBody
{
    /// <summary>Nesting a request may have. OpenAI requests are at most a few levels deep (messages[i].content[j].text);
    /// the cap keeps every recursive walk of a document shallow. Deeper is a 400 invalid_json.</summary>
    public const int MaxJsonDepth = 64;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = MaxJsonDepth };

    public static async Task<JsonDocument> ReadJsonAsync(HttpContext ctx, long maxBytes)
    {
        try
        {
            return await JsonDocument.ParseAsync(ctx.Request.Body, Options, ctx.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, "invalid_request_error", "invalid_json", "the request body is not valid JSON: " + e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(413, "invalid_request_error", "request_too_large", $"the request body is larger than {maxBytes} bytes");
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own verdict on the transfer (a body sent too slowly: 408; bad chunked framing: 400)
            throw new ApiException(e.StatusCode, "invalid_request_error", "bad_request", "the request body could not be read: " + e.Message);
        }
    }
}
