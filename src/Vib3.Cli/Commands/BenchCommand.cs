using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.Storage.Tracing;

namespace Vib3.Cli.Commands;

/// <summary>vib3 bench --model NAME [--prompt-tokens 64] [--gen-tokens 64] [--threads T] [--trace FILE] → JSON: prefill and
/// decode tokens/s, and per generated token the bytes served from RAM (T2) and read from disk (T3). --trace records
/// every page read, one step for the prefill and one per decoded token (see PageTraceFormat), for vib3-bench policies.</summary>
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
        var trace = new Option<string?>("--trace") { Description = "Record every page read of the run to this file (compare policies with vib3-bench policies)" };
        var command = new Command("bench", "Measure prefill and decode speed on a stored model, as JSON")
        {
            model, context, kvCache, promptTokens, genTokens, threads, trace,
        };
        command.SetAction(async (r, ct) =>
        {
            var (prompt, gen, t) = (r.GetValue(promptTokens), r.GetValue(genTokens), r.GetValue(threads));
            if (prompt < 1 || gen < 1 || t < 1)
                throw new Vib3Exception(SqlState.InvalidParameterValue, "--prompt-tokens, --gen-tokens and --threads must be at least 1");
            KernelThreads.Threads = t;
            using var recorder = r.GetValue(trace) is { } path
                ? PageTraceWriter.ForModel(path, GlobalOptions.Catalog(r), r.GetValue(model)!)
                : null;
            using var session = await ModelOptions.OpenAsync(r, model, context, kvCache, ct, recorder);
            var vocab = session.Forward.Hyper.Vocab;
            var tokens = Enumerable.Range(0, prompt).Select(i => (3 + 7 * i) % vocab).ToArray();
            var store = session.Weights.Store;
            if (prompt + gen > session.Cache.Capacity)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"--prompt-tokens {prompt} + --gen-tokens {gen} exceed the context of {session.Cache.Capacity} tokens (see --context)");

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
            var waits = session.Weights.PageWaits - waitsBefore;

            await using var stream = new MemoryStream();
            using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                json.WriteStartObject();
                json.WriteString("model", session.Weights.Manifest.Name);
                json.WriteString("dtype", session.Weights.Manifest.DType);
                json.WriteNumber("threads", t);
                json.WriteNumber("prompt_tokens", prompt);
                json.WriteNumber("gen_tokens", gen);
                json.WriteNumber("prefill_tokens_per_second", Math.Round(prompt / prefillSeconds, 2));
                json.WriteNumber("decode_tokens_per_second", Math.Round(gen / decodeSeconds, 2));
                json.WriteStartObject("decode_bytes_per_token");
                json.WriteNumber("ram", (after.HitBytes - before.HitBytes) / gen);
                json.WriteNumber("disk", (after.BytesRead - before.BytesRead) / gen);
                json.WriteEndObject();
                json.WriteNumber("decode_page_hits", after.Hits - before.Hits);
                json.WriteNumber("decode_page_misses", after.Misses - before.Misses);
                json.WriteNumber("decode_page_wait_seconds", Math.Round(waits.Seconds, 4)); // compute stalled, no page ready
                json.WriteNumber("decode_page_waits", waits.Waits);
                json.WriteNumber("ram_budget_bytes", GlobalOptions.RamBudgetBytes(r));
                json.WriteString("cache_policy", Vib3.Storage.CachePolicies.Name(GlobalOptions.CachePolicyOf(r)));
                if (recorder is not null) json.WriteNumber("trace_reads", recorder.Reads);
                json.WriteEndObject();
            }
            await output.WriteLineAsync(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            return 0;
        });
        return command;
    }
}
