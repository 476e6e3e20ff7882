using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Kernels;
using Vib3.LlamaCpp;
using Vib3.Query;
using Vib3.Server.Http;

namespace Vib3.Bench;

/// <summary>Continuous batching: aggregate generated tokens/s of 1, 8 and 32 concurrent streams on the same
/// Mixtral-shaped model, either through the engine's generation service (the path every front end takes) or, with
/// <c>--via http</c>, as streaming requests to the OpenAI-compatible server over loopback; with llama.cpp's
/// single-stream decode on the same GGUF for scale. Streams have different prompts, so they route to
/// different experts; greedy, fixed length, the model held in RAM (budget above its size, pages warmed first).</summary>
internal static class ServeBench
{
    public static int Run(string[] args)
    {
        var dtype = DTypes.Parse(Args.Str(args, "--dtype", "q8_0"));
        var layers = Args.Int(args, "--layers", 8);
        var counts = Args.Str(args, "--streams", "1,8,32").Split(',').Select(int.Parse).ToArray();
        var prompt = Args.Int(args, "--prompt", 32);
        var gen = Args.Int(args, "--gen", 64);
        var threads = Args.Int(args, "--threads", 2);
        var repeat = Args.Int(args, "--repeat", 3);
        var root = Args.Str(args, "--dir", Path.Combine(Path.GetTempPath(), "vib3-serve-bench"));
        var viaHttp = Args.Str(args, "--via", "engine") switch
        {
            "engine" => false,
            "http" => true,
            var other => throw new ArgumentException($"--via engine|http, not '{other}'"),
        };
        KernelThreads.Threads = threads;
        KernelThreads.SpinMicroseconds = Args.Int(args, "--spin-us", KernelThreads.SpinMicroseconds);

        var (_, gguf, catalog, manifest) = BenchModel.Create(root, dtype, layers);

        var results = new List<(int Streams, double[] TokensPerSecond, double[] MeanBatch)>();
        var engine = new Vib3Engine(new EngineOptions(catalog.DataDir, manifest.PageBytes + (1L << 30)) { MaxBatch = counts.Max() });
        var server = viaHttp ? new HttpServer(engine, new HttpServerOptions { Port = 0 }) : null;
        try
        {
            engine.Generations.WarmUpAsync("bench").GetAwaiter().GetResult();
            server?.StartAsync().GetAwaiter().GetResult();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server?.Port ?? 0}"), Timeout = TimeSpan.FromHours(1) };
            Func<int, string, int, Task<int>> generate = server is null ? (i, words, n) => ViaEngineAsync(engine, words, n) : (i, words, n) => ViaHttpAsync(http, words, n);
            Once(engine, generate, 4, 8, 8); // first use: every page into RAM, JIT warm
            foreach (var n in counts)
            {
                var runs = Enumerable.Range(0, repeat).Select(_ => Once(engine, generate, n, prompt, gen)).ToArray();
                results.Add((n, runs.Select(r => r.TokensPerSecond).ToArray(), runs.Select(r => r.MeanBatch).ToArray()));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{n} streams: {string.Join(", ", runs.Select(r => $"{r.TokensPerSecond:0.0} tok/s"))}"));
            }
        }
        finally
        {
            server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        double[] llama;
        using (var model = LlamaCppModel.Load(gguf, threads, contextLength: prompt + gen + 8))
            llama = Enumerable.Range(0, repeat).Select(_ => model.Bench(prompt, gen).DecodeTokensPerSecond).ToArray();
        Directory.Delete(root, recursive: true);

        Console.WriteLine();
        Console.WriteLine($"Mixtral-shaped, {layers} layers, d 1024, expert hidden 2816, 8 experts top-2, vocab 32000, {dtype.Name()}; " +
                          $"{threads} threads; prompt {prompt} words, generate {gen} per stream; via {(viaHttp ? "HTTP (streaming /v1/completions)" : "the engine")}; " +
                          $"{repeat} runs, min / median");
        Console.WriteLine("streams   aggregate tok/s (min / median)   mean rows per step   vs 1 stream");
        var single = StoreBench.Median(results[0].TokensPerSecond.ToList());
        foreach (var (n, tps, batch) in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{n,7}   {tps.Min(),10:0.0} / {StoreBench.Median(tps.ToList()),-10:0.0}           {StoreBench.Median(batch.ToList()),8:0.0}          {StoreBench.Median(tps.ToList()) / single,6:0.00}x"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"llama.cpp, 1 stream decode: {llama.Min():0.0} / {StoreBench.Median(llama.ToList()):0.0} tok/s"));
        return 0;
    }

    /// <summary>Starts <paramref name="streams"/> generations at once and waits for all; generated tokens per second
    /// of wall time (prefill included), and the mean rows per batched step over the run.</summary>
    private static (double TokensPerSecond, double MeanBatch) Once(Vib3Engine engine, Func<int, string, int, Task<int>> generate,
        int streams, int promptWords, int gen)
    {
        var before = engine.Generations.Stats()[0];
        var clock = Stopwatch.StartNew();
        var tokens = Task.WhenAll(Enumerable.Range(0, streams).Select(i =>
            generate(i, string.Join(" ", Enumerable.Range(0, promptWords).Select(w => $"w{(i * 31 + w * 7) % 97}")), gen)))
            .GetAwaiter().GetResult().Sum();
        var seconds = clock.Elapsed.TotalSeconds;
        var after = engine.Generations.Stats()[0];
        return (tokens / seconds, (double)(after.BatchRows - before.BatchRows) / Math.Max(1, after.Steps - before.Steps));
    }

    private static async Task<int> ViaEngineAsync(Vib3Engine engine, string words, int gen)
    {
        var plan = engine.Plan(new Generate(new StringLiteral(words), new GenerateOptions { Model = new Identifier("bench"), MaxTokens = gen }));
        await using var stream = await engine.Generations.StartAsync(plan, GenerationOptions.Default);
        var produced = 0;
        await foreach (var e in stream.ReadAllAsync()) if (e is ChoiceFinished f) produced = f.CompletionTokens;
        return produced;
    }

    /// <summary>A streaming completion read event by event to [DONE]; the tokens are the final usage chunk's.</summary>
    private static async Task<int> ViaHttpAsync(HttpClient http, string words, int gen)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = "bench", ["prompt"] = words, ["max_tokens"] = gen, ["temperature"] = 0, ["stream"] = true,
            ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var produced = 0;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]") continue;
            using var json = JsonDocument.Parse(line[6..]);
            if (json.RootElement.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                produced = usage.GetProperty("completion_tokens").GetInt32();
        }
        return produced;
    }
}
