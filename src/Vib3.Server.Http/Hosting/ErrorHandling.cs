using Microsoft.AspNetCore.Http;
using Vib3.Core;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Hosting;

/// <summary>Turns whatever a request throws into an OpenAI error response; never lets the connection die silently.</summary>
internal static class ErrorHandling
{
    public static async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        try
        {
            await next(ctx);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // the client went away: nobody to answer
        }
        catch (ApiException e)
        {
            await ErrorWriter.WriteAsync(ctx, e);
        }
        catch (Vib3Exception e)
        {
            await ErrorWriter.WriteAsync(ctx, EngineErrors.ToApi(e));
        }
        catch (OperationCanceledException)
        {
            await ErrorWriter.WriteAsync(ctx, new ApiException(503, "server_error", "shutting_down", "the server is stopping"));
        }
        catch (Exception e)
        {
            await ErrorWriter.WriteAsync(ctx, new ApiException(500, "server_error", "internal_error", $"internal error: {e.GetType().Name}: {e.Message}"));
        }
    }

    /// <summary>The bodies of responses the framework produces on its own: unknown routes and wrong methods.</summary>
    public static ApiException ForStatus(HttpContext ctx) => ctx.Response.StatusCode switch
    {
        404 => new(404, "invalid_request_error", "not_found", $"no such route: {ctx.Request.Method} {ctx.Request.Path}"),
        405 => new(405, "invalid_request_error", "method_not_allowed", $"{ctx.Request.Method} is not allowed on {ctx.Request.Path}"),
        var s => new(s, s >= 500 ? "server_error" : "invalid_request_error", null, $"HTTP {s}"),
    };
}
