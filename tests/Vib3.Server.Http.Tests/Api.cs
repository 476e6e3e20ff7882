using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Vib3.Server.Http.Tests;

/// <summary>Raw HTTP helpers: post JSON, read JSON, split a server-sent event stream into its data payloads.</summary>
internal static class Api
{
    public static async Task<(int Status, JsonNode? Body)> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public static async Task<(int Status, JsonNode? Body)> PostRawAsync(HttpClient http, string path, string body)
    {
        using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    /// <summary>Posts exactly these bytes as application/json: bodies a JSON serializer would never produce.</summary>
    public static async Task<(int Status, JsonNode? Body)> PostBytesAsync(HttpClient http, string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync(path, content);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    /// <summary>The data payloads of an SSE body, in order ("[DONE]" included).</summary>
    public static async Task<List<string>> StreamAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("\n\n", text, StringComparison.Ordinal);
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e =>
        {
            Assert.StartsWith("data: ", e, StringComparison.Ordinal);
            return e["data: ".Length..];
        }).ToList();
    }

    /// <summary>An OpenAI error body: asserts its shape and returns it.</summary>
    public static JsonNode Error(JsonNode? body)
    {
        var error = body?["error"] ?? throw new Xunit.Sdk.XunitException($"no error object in {body?.ToJsonString()}");
        Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        Assert.NotNull((string?)error["type"]);
        Assert.True(error.AsObject().ContainsKey("param") && error.AsObject().ContainsKey("code"));
        return error;
    }
}
