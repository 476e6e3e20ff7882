using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Vib3.Soak;

/// <summary>/v1/completions and /v1/chat/completions as an OpenAI client sends them, whole or streamed (server-sent
/// events up to `data: [DONE]`), read to the end.</summary>
internal static class HttpGeneration
{
    public const string Completions = "v1/completions", Chat = "v1/chat/completions";

    /// <summary>A client for many concurrent requests to one server (no per-host connection limit, no timeout of its
    /// own: every request carries its deadline).</summary>
    public static HttpClient Client(VibServer server) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{server.HttpPort}/"),
            Timeout = Timeout.InfiniteTimeSpan,
        };

    public static async Task<Answer> RunAsync(HttpClient http, string route, string model, string prompt, int maxTokens, bool stream,
        CancellationToken ct, Action? onPiece = null)
    {
        var clock = Stopwatch.StartNew();
        var body = new JsonObject { ["model"] = model, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = stream };
        if (route == Chat) body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt });
        else body["prompt"] = prompt;
        var text = new StringBuilder();
        var pieces = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, route)
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
                return new Answer(Ending.Refused, "", 0, $"HTTP {(int)response.StatusCode}: {Text.Clip(await response.Content.ReadAsStringAsync(ct), 100)}", clock.Elapsed);
            if (!stream)
            {
                var choice = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["choices"]![0]!;
                onPiece?.Invoke();
                return new Answer(Ending.Complete, Piece(choice, route, stream: false), 1, "", clock.Elapsed);
            }
            using var lines = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            while (await lines.ReadLineAsync(ct) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var data = line["data: ".Length..];
                if (data == "[DONE]") return new Answer(Ending.Complete, text.ToString(), pieces, "", clock.Elapsed);
                if (JsonNode.Parse(data)?["choices"] is JsonArray { Count: > 0 } choices)
                {
                    text.Append(Piece(choices[0]!, route, stream: true));
                    pieces++;
                    onPiece?.Invoke();
                }
            }
            return new Answer(Ending.Closed, text.ToString(), pieces, "stream ended without [DONE]", clock.Elapsed);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return new Answer(Ending.TimedOut, text.ToString(), pieces, "client deadline", clock.Elapsed);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return new Answer(Ending.Closed, text.ToString(), pieces, $"{e.GetType().Name}: {e.GetBaseException().Message}", clock.Elapsed);
        }
        catch (JsonException e)
        {
            return new Answer(Ending.Refused, text.ToString(), pieces, $"unreadable JSON: {e.Message}", clock.Elapsed);
        }
    }

    private static string Piece(JsonNode choice, string route, bool stream) =>
        (route == Chat ? choice[stream ? "delta" : "message"]?["content"] : choice["text"])?.GetValue<string>() ?? "";
}
