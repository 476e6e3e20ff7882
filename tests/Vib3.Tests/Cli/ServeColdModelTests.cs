using System.Text;
using System.Text.RegularExpressions;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Storage.Catalog;

namespace Vib3.Tests.Cli;

/// <summary>Requests that arrive together for a model that is not open yet: one opens it, the others wait for it
/// without holding a thread. Before, the first caller opened the model inside the Lazy's lock on its own thread and
/// the other callers blocked on that lock, each holding a thread-pool thread that the open's own continuations
/// needed: with the pool capped at 4 workers every request hung; on 2 cores the pool grew out of it only after
/// ~15 s, and Postgres logins in that window took 10–13 s (found by `vib3-soak reliability`, sigterm-32-streams).
/// A real `vib3 serve` process, so that its thread pool can be capped.</summary>
public sealed class ServeColdModelTests
{
    private const int Requests = 16;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Sixteen_first_requests_for_a_model_are_answered_with_a_four_thread_pool()
    {
        using var dir = new TempDir();
        // the default model (vib3 demo's), shipped beside the CLI: its open reads enough pages to show the starvation
        // (a 2-layer synthetic model opened before the pool ran dry)
        var data = Path.Combine(dir.Path, "data");
        new ModelConverter(new ModelCatalog(data), DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(
            Path.Combine(AppContext.BaseDirectory, "catalog", "models", "vib3-moe"), "m"));
        // the runtime reads this variable as hexadecimal: 4 worker threads at most
        using var serve = new ServeProcess(data, new Dictionary<string, string> { ["DOTNET_ThreadPool_ForceMaxWorkerThreads"] = "4" }, "--http-port", "0");
        var line = await serve.LineAsync("OpenAI-compatible API on", StartTimeout);
        var port = int.Parse(Regex.Match(line, @"127\.0\.0\.1:(\d+)/").Groups[1].Value);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var answers = await Task.WhenAll(Enumerable.Range(0, Requests).Select(async i =>
        {
            using var response = await http.PostAsync($"http://127.0.0.1:{port}/v1/completions", new StringContent(
                $$"""{"model":"m","prompt":"request {{i}}","max_tokens":4,"temperature":0}""", Encoding.UTF8, "application/json"));
            return (int)response.StatusCode;
        }));
        Assert.All(answers, status => Assert.Equal(200, status));
    }
}
