using System.CommandLine;
using System.Text.Json;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Models.Inference;
using Vib3.Query;
using Vib3.Query.Planning;
using Vib3.Storage;
using Vib3.Storage.Tracing;

namespace Vib3.Cli.Commands;

/// <summary>vib3 bench --model NAME [--prompt-tokens 64] [--gen-tokens 64] [--threads T] [--warmup 1] [--repetitions 5] [--using "RETRIEVAL ..."]
/// [--cold] [--trace FILE] → JSON, measured the way llama-bench measures: untimed warm-up runs first (JIT, thread pool,
/// and in warm mode the pages the run touches), then each repetition is one statement through the engine — GENERATE
/// over the prompt's token ids, greedy, end-of-generation ignored, so it prefills the prompt into an empty KV cache
/// and decodes exactly --gen-tokens tokens; prefill and decode tokens/s are given as mean, sample sd, min, median and
/// max over the repetitions, with per decoded token the bytes its operators found in RAM (T2) and did not (read from
/// disk for it, or joined to a read under way: T3), from the statement's own EXPLAIN ANALYZE figures. --cold empties
/// vib3's RAM tier and asks the OS to drop its cached copy of the store before every repetition, so each one starts
/// from disk (the budget is honoured either way). --trace records every page read, warm-up included, one step per
/// forward step (the prefill of a prompt of up to 64 tokens, then each decoded token; see PageTraceFormat), for
/// vib3-bench policies.</summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter output)
    {
        var model = ModelOptions.Model();
        var context = ModelOptions.Context();
        var kvCache = ModelOptions.KvCache();
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length", DefaultValueFactory = _ => 64 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens to generate", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "Kernel threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs before the measured ones", DefaultValueFactory = _ => 1 };
        var repetitions = new Option<int>("--repetitions") { Description = "Measured runs (mean ± sd, min, median, max over them)", DefaultValueFactory = _ => 5 };
        var cold = new Option<bool>("--cold") { Description = "Start every measured run with vib3's RAM tier and the OS cache of the store dropped" };
        var routing = new Option<string>("--using")
        {
            Description = "How experts are routed: ROUTER (default) or a RETRIEVAL clause, e.g. \"RETRIEVAL mass=0.9\"", DefaultValueFactory = _ => "ROUTER",
        };
        var trace = new Option<string?>("--trace") { Description = "Record every page read of the run to this file (compare policies with vib3-bench policies)" };
        var command = new Command("bench", "Measure prefill and decode speed on a stored model, as JSON")
        {
            model, context, kvCache, promptTokens, genTokens, threads, warmup, repetitions, cold, trace, routing,
        };
        command.SetAction(async (r, ct) =>
        {
            var (prompt, gen, t) = (r.GetValue(promptTokens), r.GetValue(genTokens), r.GetValue(threads));
            var (warm, reps, isCold) = (r.GetValue(warmup), r.GetValue(repetitions), r.GetValue(cold));
            if (prompt < 1 || gen < 1 || t < 1 || reps < 1)
                throw new Vib3Exception(SqlState.InvalidParameterValue, "--prompt-tokens, --gen-tokens, --threads and --repetitions must be at least 1");
            if (warm < 0)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"--warmup must be 0 or more, not {warm}");
            KernelThreads.Threads = t;
            var name = r.GetValue(model)!;
            var catalog = GlobalOptions.Catalog(r);
            using var recorder = r.GetValue(trace) is { } path ? PageTraceWriter.ForModel(path, catalog, name) : null;
            await using var engine = GlobalOptions.OpenEngine(r, ModelOptions.EngineOptions(r, model, context, kvCache) with
            {
                PageTraces = recorder is null ? new Dictionary<string, PageTraceWriter>() : new() { [name] = recorder },
            });
            var manifest = catalog.Get(name);
            var limit = Math.Min(manifest.Hyper.Context, r.GetValue(context) ?? int.MaxValue);
            if (prompt + gen > limit)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"--prompt-tokens {prompt} + --gen-tokens {gen} exceed the context of {limit} tokens (see --context)");
            var tokens = Enumerable.Range(0, prompt).Select(i => (3 + 7 * i) % manifest.Hyper.Vocab).ToArray();
            // The prefill samples the first token; each of the gen decode steps runs one more and samples the next.
            var plan = engine.Plan(new GenerateTokens(new ValueList<int>(tokens),
                PerplexityCommand.Statement(name, r.GetValue(routing)!, "--using").Options with { MaxTokens = gen + 1, Temperature = 0, IgnoreEos = true }));

            for (var i = 0; i < warm; i++) await RunAsync(engine, plan, ct);
            var runs = new List<BenchRun>();
            var osCacheDropped = true;
            for (var i = 0; i < reps; i++)
            {
                if (isCold) osCacheDropped &= await engine.Generations.DropCachesAsync(name, ct);
                runs.Add(await RunAsync(engine, plan, ct));
            }

            await using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("model", manifest.Name);
                json.WriteString("dtype", manifest.DType);
                json.WriteString("using", r.GetValue(routing));
                json.WriteString("routing", PlanPrinter.Routing(plan.Routing, manifest.Hyper.Experts));
                json.WriteNumber("threads", t);
                json.WriteNumber("prompt_tokens", prompt);
                json.WriteNumber("gen_tokens", gen);
                json.WriteString("cache", isCold ? "cold" : "warm");
                if (isCold) json.WriteBoolean("os_cache_dropped", osCacheDropped);
                json.WriteNumber("warmup_runs", warm);
                json.WriteNumber("repetitions", reps);
                WriteSummary(json, "prefill_tokens_per_second", runs.Select(x => prompt / x.PrefillSeconds));
                WriteSummary(json, "decode_tokens_per_second", runs.Select(x => gen / x.DecodeSeconds));
                // Bytes read from disk: for the pages the operators asked for and for those the expert prefetch read
                // ahead (a page read ahead is then found in RAM or joined: its bytes count once, here). A warm run's prefill
                // reads nothing when the model fits the budget; a cold one reads it all.
                json.WriteNumber("prefill_disk_bytes", runs.Sum(x => DiskBytes(x.Prefill)) / reps);
                // The page figures are per decoded token (bytes) or totals over the measured repetitions (counts).
                var decoded = (long)gen * reps;
                json.WriteStartObject("decode_bytes_per_token");
                json.WriteNumber("ram", runs.Sum(x => x.Decode.Reads.HitBytes) / decoded);
                json.WriteNumber("disk", runs.Sum(x => DiskBytes(x.Decode)) / decoded);
                json.WriteEndObject();
                json.WriteNumber("decode_page_hits", runs.Sum(x => x.Decode.PagesHit));
                json.WriteNumber("decode_page_misses", runs.Sum(x => x.Decode.PagesFromDisk)); // pages joined to a read under way: neither
                json.WriteNumber("decode_page_wait_seconds", Math.Round(runs.Sum(x => x.Decode.WaitTime.TotalSeconds), 4)); // compute stalled, no page ready
                json.WriteNumber("decode_page_waits", runs.Sum(x => x.Decode.Waits));
                // Everything the store read from disk in the measured runs, the expert prefetcher's reads included.
                json.WriteNumber("store_disk_bytes", runs.Sum(x => x.StoreDiskBytes));
                json.WriteNumber("ram_budget_bytes", GlobalOptions.RamBudgetBytes(r));
                json.WriteString("cache_policy", CachePolicies.Name(GlobalOptions.CachePolicyOf(r)));
                if (recorder is not null) json.WriteNumber("trace_reads", recorder.Reads);
                json.WriteEndObject();
            }
            await output.WriteLineAsync(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return 0;
        });
        return command;
    }

    /// <summary>One run of the plan from an empty KV cache: the prefill's and the decode's seconds and page figures (the
    /// statement's own, by phase), and what the store read from disk meanwhile.</summary>
    private static async Task<BenchRun> RunAsync(Vib3Engine engine, GenerationPlan plan, CancellationToken ct)
    {
        var before = engine.Generations.Stats().SingleOrDefault()?.Tiers.BytesRead ?? 0;
        await using var stream = await engine.Generations.StartAsync(plan, new ChoiceOptions { Analyze = true }, ct);
        ChoiceFinished? finished = null;
        await foreach (var e in stream.ReadAllAsync(ct))
            if (e is ChoiceFinished f) finished = f;
        if (finished!.CompletionTokens != plan.MaxTokens)
            throw new Vib3Exception(SqlState.InternalError,
                $"the run generated {finished.CompletionTokens} tokens, not {plan.MaxTokens} (finish {finished.FinishReason})");
        var prefill = finished.TimeToFirstToken.TotalSeconds;
        var actuals = stream.Actuals!;
        var after = engine.Generations.Stats().Single().Tiers.BytesRead;
        return new BenchRun(prefill, finished.Elapsed.TotalSeconds - prefill, actuals.Sum(StepPhase.Prefill), actuals.Sum(StepPhase.Decode), after - before);
    }

    /// <summary>{"mean", "sd" (sample; 0 for one run), "min", "median", "max", "samples"} of a figure, like
    /// llama-bench's avg ± stddev.</summary>
    private static void WriteSummary(Utf8JsonWriter json, string name, IEnumerable<double> values)
    {
        var v = values.ToArray();
        var sorted = v.Order().ToArray();
        var mean = v.Average();
        var sd = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        json.WriteStartObject(name);
        json.WriteNumber("mean", Math.Round(mean, 2));
        json.WriteNumber("sd", Math.Round(sd, 2));
        json.WriteNumber("min", Math.Round(sorted[0], 2));
        json.WriteNumber("median", Math.Round(median, 2));
        json.WriteNumber("max", Math.Round(sorted[^1], 2));
        json.WriteStartArray("samples");
        foreach (var x in v) json.WriteNumberValue(Math.Round(x, 2));
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static long DiskBytes(OperatorFigures f) => f.Reads.DiskBytes + f.Reads.PrefetchedBytes;

    /// <summary>One measured run: its two phases' seconds and page figures, and the bytes the store read from disk.</summary>
    private sealed record BenchRun(double PrefillSeconds, double DecodeSeconds, OperatorFigures Prefill, OperatorFigures Decode, long StoreDiskBytes);
}
