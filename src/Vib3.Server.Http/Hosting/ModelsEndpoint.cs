using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vib3.Server.Http.Api;
using Vib3.Storage.Catalog;

namespace Vib3.Server.Http.Hosting;

/// <summary>GET /v1/models and /v1/models/{id}: the catalog's models (those whose manifest reads).</summary>
internal static class ModelsEndpoint
{
    public static async Task ListAsync(HttpContext ctx, ModelCatalog catalog)
    {
        var models = catalog.List().Where(e => e.Manifest is not null).ToList();
        await WriteAsync(ctx, w =>
        {
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (var e in models)
            {
                w.WriteStartObject();
                WriteModel(w, e.Name, e.Manifest!);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    public static async Task GetAsync(HttpContext ctx, ModelCatalog catalog)
    {
        var name = (string)ctx.Request.RouteValues["id"]!;
        if (!catalog.Exists(name))
            throw new ApiException(404, "invalid_request_error", "model_not_found", $"model \"{name}\" does not exist", "model");
        var manifest = catalog.Get(name);
        await WriteAsync(ctx, w => WriteModel(w, name, manifest));
    }

    private static void WriteModel(Utf8JsonWriter w, string name, ModelManifest manifest)
    {
        w.WriteString("id", name);
        w.WriteString("object", "model");
        w.WriteNumber("created", manifest.CreatedAt.ToUnixTimeSeconds());
        w.WriteString("owned_by", "vib3");
    }

    private static async Task WriteAsync(HttpContext ctx, Action<Utf8JsonWriter> body)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.Body.WriteAsync(JsonBytes.Object(body), ctx.RequestAborted);
    }
}
