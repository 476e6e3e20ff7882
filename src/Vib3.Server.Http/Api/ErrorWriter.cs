using Microsoft.AspNetCore.Http;

namespace Vib3.Server.Http.Api;

/// <summary>Writes errors as OpenAI clients parse them: a JSON body, or an SSE event once a stream has begun.</summary>
internal static class ErrorWriter
{
    public static async Task WriteAsync(HttpContext ctx, ApiException error)
    {
        if (ctx.Response.HasStarted)
        {
            // Headers (200, text/event-stream) are gone: OpenAI streams report a late failure as an error event.
            await ctx.Response.BodyWriter.WriteAsync(Sse.Event(Json(error)), ctx.RequestAborted);
            await ctx.Response.BodyWriter.FlushAsync(ctx.RequestAborted);
            return;
        }
        ctx.Response.StatusCode = error.Status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(Json(error), ctx.RequestAborted);
    }

    public static byte[] Json(ApiException error) => JsonBytes.Object(w =>
    {
        w.WriteStartObject("error");
        w.WriteString("message", error.Message);
        w.WriteString("type", error.Type);
        w.WriteString("param", error.Param);
        w.WriteString("code", error.Code);
        w.WriteEndObject();
    });
}
