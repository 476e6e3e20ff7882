using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Hosting;

/// <summary>With an API key set, every request but /health must carry <c>Authorization: Bearer KEY</c>.</summary>
internal sealed class ApiKeyCheck(string key)
{
    private readonly byte[] _expected = Encoding.UTF8.GetBytes("Bearer " + key);

    public async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        if (ctx.Request.Path != "/health" && !Matches(ctx.Request.Headers.Authorization.ToString()))
            throw new ApiException(401, "authentication_error", "invalid_api_key",
                "missing or wrong API key: send it as 'Authorization: Bearer <key>'");
        await next(ctx);
    }

    // constant time, so response timing does not reveal how much of a guessed key was right
    private bool Matches(string header) => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), _expected);
}
