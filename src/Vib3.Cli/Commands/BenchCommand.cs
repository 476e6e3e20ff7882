using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Storage.Tracing;

namespace Vib3.Cli.Commands;

/// <summary>vib3 bench --model NAME [--prompt-tokens 64] [--gen-tokens 64] [--threads T] [--warmup 1] [--repetitions 5]
/// [--cold] [--trace FILE] → JSON, measured the way llama-bench measures: untimed warm-up runs first (JIT, thread pool,
/// and in warm mode the pages the run touches), then each repetition prefills the prompt into an empty KV cache and
/// decodes; prefill and decode tokens/s are given as mean, sample sd, min, median and max over the repetitions, with
/// per generated token the bytes served from RAM (T2) and read from disk (T3). --cold empties vib3's RAM tier and asks
/// the OS to drop its cached copy of the store before every repetition, so each one starts from disk (the budget is
/// honoured either way). --trace records every page read, warm-up included, one step for each prefill and one per
/// decoded token (see PageTraceFormat), for vib3-bench policies.</summary>
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
        var trace = new Option<string?>("--trace") { Description = "Record every page read of the run to this file (compare policies with vib3-bench policies)" };
        var command = new Command("bench", "Measure prefill and decode speed on a stored model, as JSON")
        {
            model, context, kvCache, promptTokens, genTokens, threads, warmup, repetitions, cold, trace,
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
            using var recorder = r.GetValue(trace) is { } path
                ? PageTraceWriter.ForModel(path, GlobalOptions.Catalog(r), r.GetValue(model)!)
                : null;
            using var session = await ModelOptions.OpenAsync(r, model, context, kvCache, ct, recorder);
            var vocab = session.Forward.Hyper.Vocab;
            var tokens = Enumerable.Range(0, prompt).Select(i => (3 + 7 * i) % vocab).ToArray();
            if (prompt + gen > session.Cache.Capacity)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"--prompt-tokens {prompt} + --gen-tokens {gen} exceed the context of {session.Cache.Capacity} tokens (see --context)");

            for (var i = 0; i < warm; i++) await RunAsync(session, tokens, gen, recorder, ct);
            var runs = new List<BenchRun>();
            var osCacheDropped = true;
            for (var i = 0; i < reps; i++)
            {
                if (isCold) osCacheDropped &= session.Weights.Store.DropCaches();
                runs.Add(await RunAsync(session, tokens, gen, recorder, ct));
            }

            await using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("model", session.Weights.Manifest.Name);
                json.WriteString("dtype", session.Weights.Manifest.DType);
                json.WriteNumber("threads", t);
                json.WriteNumber("prompt_tokens", prompt);
                json.WriteNumber("gen_tokens", gen);
                json.WriteString("cache", isCold ? "cold" : "warm");
                if (isCold) json.WriteBoolean("os_cache_dropped", osCacheDropped);
                json.WriteNumber("warmup_runs", warm);
                json.WriteNumber("repetitions", reps);
                WriteSummary(json, "prefill_tokens_per_second", runs.Select(x => prompt / x.PrefillSeconds));
                WriteSummary(json, "decode_tokens_per_second", runs.Select(x => gen / x.DecodeSeconds));
                // A warm run's prefill reads nothing from disk when the model fits the budget; a cold one reads it all.
                json.WriteNumber("prefill_disk_bytes", runs.Sum(x => x.PrefillDiskBytes) / reps);
                // The page figures are per decoded token (bytes) or totals over the measured repetitions (counts).
                var decoded = (long)gen * reps;
                json.WriteStartObject("decode_bytes_per_token");
                json.WriteNumber("ram", runs.Sum(x => x.HitBytes) / decoded);
                json.WriteNumber("disk", runs.Sum(x => x.DiskBytes) / decoded);
                json.WriteEndObject();
                json.WriteNumber("decode_page_hits", runs.Sum(x => x.Hits));
                json.WriteNumber("decode_page_misses", runs.Sum(x => x.Misses));
                json.WriteNumber("decode_page_wait_seconds", Math.Round(runs.Sum(x => x.Waits.Seconds), 4)); // compute stalled, no page ready
                json.WriteNumber("decode_page_waits", runs.Sum(x => x.Waits.Waits));
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

    /// <summary>One run from an empty KV cache: the prompt prefilled, then <paramref name="gen"/> greedy decode steps,
    /// with the store's counters over the decode alone.</summary>
    private static async Task<BenchRun> RunAsync(InferenceSession session, int[] tokens, int gen, PageTraceWriter? recorder, CancellationToken ct)
    {
        session.Cache.Clear();
        var store = session.Weights.Store;
        var start = store.Stats;
        var clock = Stopwatch.StartNew();
        recorder?.MarkStep();
        var logits = (await session.LogitsAsync(tokens, allPositions: false, ct))[0];
        var prefillSeconds = clock.Elapsed.TotalSeconds;

        var before = store.Stats;
        var waitsBefore = session.Weights.PageWaits;
        clock.Restart();
        for (var i = 0; i < gen; i++)
        {
            var next = VectorOps.ArgMax(logits);
            recorder?.MarkStep();
            logits = await session.Forward.DecodeAsync(next, session.Cache, ct);
        }
        var decodeSeconds = clock.Elapsed.TotalSeconds;
        var after = store.Stats;
        return new BenchRun(prefillSeconds, before.BytesRead - start.BytesRead, decodeSeconds, after.Hits - before.Hits, after.Misses - before.Misses,
            after.HitBytes - before.HitBytes, after.BytesRead - before.BytesRead, session.Weights.PageWaits - waitsBefore);
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

    /// <summary>One measured run: its two phases' seconds, the bytes its prefill read from disk, and the decode's page reads (hits, misses, bytes from RAM and
    /// from disk) and stalls.</summary>
    private sealed record BenchRun(double PrefillSeconds, long PrefillDiskBytes, double DecodeSeconds, long Hits, long Misses, long HitBytes,
        long DiskBytes, Vib3.Models.Weights.PageWaitStats Waits);
}
