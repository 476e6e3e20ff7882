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
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>Continuous batching: aggregate generated tokens/s of 1, 8 and 32 concurrent streams on the same
/// Mixtral-shaped model, either through the engine's generation service (the path every front end takes) or, with
/// <c>--via http</c>, as streaming requests to the OpenAI-compatible server over loopback; next to llama.cpp decoding
/// the same numbers of sequences in one batch per step on the same GGUF (llama-server's parallel slots). --dtype is
/// a vib3 type the synthetic generator writes (f32, f16, bf16, q8_0) or a llama-quantize level (q4_k_m, q6_k, ...)
/// made by llama.cpp's quantizer and converted by vib3. Streams have different prompts, so they route to different
/// experts; greedy, fixed length, the model held in RAM (budget above its size, pages warmed first).
/// Two aggregates per count: wall (all generated tokens ÷ the time from submitting the streams to the last one's
/// end, prefill included) and decode (Σ over streams of tokens after the first ÷ the time from its first token to its
/// end: the steady batched-decode rate, which is what llama.cpp's figure measures).</summary>
internal static class ServeBench
{
    public static int Run(string[] args)
    {
        var dtype = Args.Str(args, "--dtype", "q4_k_m");
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

        var (_, gguf, catalog, manifest) = BenchModel.CreateNamed(root, BenchShapes.Mixtral(DType.F32, layers), dtype);
        var size = GgufSize.Of(gguf);

        var results = new List<(int Streams, Aggregate[] Runs)>();
        var engine = new Vib3Engine(new EngineOptions(catalog.DataDir, manifest.PageBytes + (1L << 30)) { MaxBatch = counts.Max() });
        var server = viaHttp ? new HttpServer(engine, new HttpServerOptions { Port = 0 }) : null;
        try
        {
            engine.Generations.WarmUpAsync("bench").GetAwaiter().GetResult();
            server?.StartAsync().GetAwaiter().GetResult();
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server?.Port ?? 0}"), Timeout = TimeSpan.FromHours(1) };
            Func<string, int, Task<StreamRun>> generate = server is null ? (words, n) => ViaEngineAsync(engine, words, n) : (words, n) => ViaHttpAsync(http, words, n);
            Once(engine, generate, 4, 8, 8); // first use: every page into RAM
            foreach (var n in counts)
            {
                // One untimed run of the same shape first, as llama-bench does: a lone stream takes the decode pass and
                // a crowd the batched one, and each path's methods reach the JIT's optimised tier only after use.
                Once(engine, generate, n, prompt, gen);
                var runs = Enumerable.Range(0, repeat).Select(_ => Once(engine, generate, n, prompt, gen)).ToArray();
                results.Add((n, runs));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{n} streams: {string.Join(", ", runs.Select(r => $"{r.Wall:0.0} wall / {r.Decode:0.0} decode tok/s"))}"));
            }
        }
        finally
        {
            server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        // llama.cpp's prompts are as many fixed ids as vib3's prompts had tokens.
        var llamaPrompt = (int)Math.Round(results.SelectMany(r => r.Runs).Average(r => r.PromptTokensPerStream));
        // One stream's decode without the serving loop (a session's forward pass and argmax, as vib3-bench forward):
        // what the loop (scheduling, sampling, events) costs per token.
        var ids = Enumerable.Range(0, llamaPrompt).Select(i => 3 + i * 7919 % (BenchShapes.Mixtral(DType.F32, layers).Vocab - 3)).ToArray();
        var direct = Enumerable.Range(0, repeat).Select(_ => ForwardBench.Vib3Once(catalog, manifest, ids, gen)).ToArray();
        var llama = new List<double[]>();
        var llamaCpu = new List<double[]>();
        using (var model = LlamaCppModel.Load(gguf, threads, contextLength: llamaPrompt + gen + 8, sequences: counts.Max()))
            foreach (var n in counts)
            {
                var runs = Enumerable.Range(0, repeat).Select(_ =>
                {
                    var cpu = CpuClock.Seconds();
                    var decode = model.BenchStreams(n, llamaPrompt, gen);
                    return (Decode: decode, PerCpuSecond: (double)n * gen / (CpuClock.Seconds() - cpu));
                }).ToArray();
                llama.Add(runs.Select(r => r.Decode).ToArray());
                llamaCpu.Add(runs.Select(r => r.PerCpuSecond).ToArray());
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"llama.cpp {n} streams: {string.Join(", ", llama[^1].Select(t => $"{t:0.0} decode tok/s"))}"));
            }
        Directory.Delete(root, recursive: true);

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Mixtral-shaped, {layers} layers, d 1024, expert hidden 2816, 8 experts top-2, vocab 32000, {dtype} " +
            $"({size.Gigabytes:0.00} GB GGUF, {size.BitsPerWeight:0.00} bits per weight: {size.Mix}); {threads} threads; " +
            $"prompt {prompt} words ({llamaPrompt} tokens), generate {gen} per stream; vib3 via {(viaHttp ? "HTTP (streaming /v1/completions)" : "the engine")}; " +
            $"{repeat} runs, min / median; ratios of medians"));
        Console.WriteLine("streams   vib3 wall tok/s   ×1     vib3 decode tok/s   ×1     rows/step   llama.cpp decode tok/s   ×1     vib3/llama decode");
        double Med(IEnumerable<double> xs) => StoreBench.Median(xs.ToList());
        var (wall1, decode1, llama1) = (Med(results[0].Runs.Select(r => r.Wall)), Med(results[0].Runs.Select(r => r.Decode)), Med(llama[0]));
        string Pair(IEnumerable<double> xs) => string.Create(CultureInfo.InvariantCulture, $"{xs.Min(),6:0.0} / {Med(xs),-6:0.0}");
        for (var i = 0; i < results.Count; i++)
        {
            var (n, runs) = results[i];
            var (wall, decode, theirs) = (Med(runs.Select(r => r.Wall)), Med(runs.Select(r => r.Decode)), Med(llama[i]));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{n,7}   {Pair(runs.Select(r => r.Wall))}  {wall / wall1,5:0.00}   {Pair(runs.Select(r => r.Decode))}    {decode / decode1,5:0.00}   " +
                $"{Med(runs.Select(r => r.MeanBatch)),9:0.0}   {Pair(llama[i])}          {theirs / llama1,5:0.00}   {decode / theirs,8:0.00}"));
        }
        var (directWall, directCpu) = (direct.Select(d => d.DecodeTokensPerSecond).ToList(), direct.Select(d => d.DecodeTokensPerCpuSecond).ToList());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"vib3 1 stream without the serving loop (forward pass + argmax): {Pair(directWall)} decode tok/s (the loop's: {decode1 / Med(directWall):0.00} of it), " +
            $"{Pair(directCpu)} decode tok/CPU-s"));
        Console.WriteLine();
        Console.WriteLine("per CPU-second (generated tokens ÷ the process's CPU seconds for the whole run, prefill included; with --threads 1 " +
                          "what the machine would give alone, whatever the load):");
        Console.WriteLine("streams   vib3 tok/CPU-s    ×1     llama.cpp tok/CPU-s   ×1     vib3/llama");
        var (cpu1, llamaCpu1) = (Med(results[0].Runs.Select(r => r.PerCpuSecond)), Med(llamaCpu[0]));
        for (var i = 0; i < results.Count; i++)
        {
            var (ours, theirs) = (Med(results[i].Runs.Select(r => r.PerCpuSecond)), Med(llamaCpu[i]));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{results[i].Streams,7}   {Pair(results[i].Runs.Select(r => r.PerCpuSecond))}  {ours / cpu1,5:0.00}   {Pair(llamaCpu[i])}       {theirs / llamaCpu1,5:0.00}   {ours / theirs,8:0.00}"));
        }
        return 0;
    }

    /// <summary>One stream's generated tokens, and seconds from its start to its first token and to its end.</summary>
    private sealed record StreamRun(int Tokens, double FirstTokenSeconds, double Seconds);

    /// <summary>One run of n concurrent streams: wall and decode-phase aggregate tok/s, mean rows per batched step.</summary>
    private sealed record Aggregate(double Wall, double Decode, double MeanBatch, double PromptTokensPerStream, double PerCpuSecond);

    /// <summary>Starts <paramref name="streams"/> generations at once and waits for all.</summary>
    private static Aggregate Once(Vib3Engine engine, Func<string, int, Task<StreamRun>> generate, int streams, int promptWords, int gen)
    {
        var before = engine.Generations.Stats()[0];
        var cpu = CpuClock.Seconds();
        var clock = Stopwatch.StartNew();
        var runs = Task.WhenAll(Enumerable.Range(0, streams).Select(i =>
            generate(string.Join(" ", Enumerable.Range(0, promptWords).Select(w => $"w{(i * 31 + w * 7) % 97}")), gen)))
            .GetAwaiter().GetResult();
        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = CpuClock.Seconds() - cpu;
        var after = engine.Generations.Stats()[0];
        var decode = runs.Where(r => r.Tokens > 1 && r.Seconds > r.FirstTokenSeconds).Sum(r => (r.Tokens - 1) / (r.Seconds - r.FirstTokenSeconds));
        return new Aggregate(runs.Sum(r => r.Tokens) / seconds, decode,
            (double)(after.BatchRows - before.BatchRows) / Math.Max(1, after.Steps - before.Steps), (double)(after.PromptTokens - before.PromptTokens) / streams,
            runs.Sum(r => r.Tokens) / cpuSeconds);
    }

    /// <summary>The engine's own times (from submission to the first sampled token and to the end).</summary>
    private static async Task<StreamRun> ViaEngineAsync(Vib3Engine engine, string words, int gen)
    {
        var plan = engine.Plan(new Generate(new StringLiteral(words), new GenerateOptions { Model = new Identifier("bench"), MaxTokens = gen }));
        await using var stream = await engine.Generations.StartAsync(plan, ChoiceOptions.Default);
        StreamRun? run = null;
        await foreach (var e in stream.ReadAllAsync())
            if (e is ChoiceFinished f) run = new StreamRun(f.CompletionTokens, f.TimeToFirstToken.TotalSeconds, f.Elapsed.TotalSeconds);
        return run ?? throw new InvalidOperationException("a generation ended without finishing its choice");
    }

    /// <summary>A streaming completion read event by event to [DONE]; the tokens are the final usage chunk's, the
    /// times the client's (first chunk with text, and [DONE]).</summary>
    private static async Task<StreamRun> ViaHttpAsync(HttpClient http, string words, int gen)
    {
        var clock = Stopwatch.StartNew();
        double? first = null;
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
            if (first is null && json.RootElement.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0 &&
                choices[0].TryGetProperty("text", out var text) && text.GetString() is { Length: > 0 })
                first = clock.Elapsed.TotalSeconds;
        }
        return new StreamRun(produced, first ?? clock.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds);
    }
}
