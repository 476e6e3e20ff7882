using System.Diagnostics;
using System.Globalization;
using Vib3.Core;
using Vib3.Kernels;
using Vib3.LlamaCpp;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>vib3 vs llama.cpp on the same synthetic GGUF (--shape mixtral: 8 layers, d 1024, expert hidden 2816,
/// 16/4 heads, 8 experts top-2, vocab 32000, ~2.5 GB at f32; kimi: <see cref="BenchShapes.KimiShaped"/>), same threads,
/// prefill and decode tok/s side by side per dtype, with ratios. Both hold the whole model in RAM (vib3's budget is set
/// above the model).</summary>
internal static class ForwardBench
{
    public static int Run(string[] args)
    {
        // Levels as llama-quantize names them: f32 is the synthetic file itself, every other level is made from it by
        // llama.cpp's own quantizer, so both engines run the file a user would download.
        var levels = Args.Str(args, "--dtypes", "f32,f16,q8_0").Split(',').Select(QuantLevel.Parse).ToList();
        var layers = Args.Int(args, "--layers", 8);
        var shape = Args.Str(args, "--shape", "mixtral");
        var prompt = Args.Int(args, "--prompt", 64);
        var gen = Args.Int(args, "--gen", 64);
        var threads = Args.Int(args, "--threads", 2);
        var repeat = Args.Int(args, "--repeat", 3);
        var root = Args.Str(args, "--dir", Path.Combine(Path.GetTempPath(), "vib3-forward-bench"));
        KernelThreads.Threads = threads;

        var rows = new List<string>();
        var mixes = new List<string>();
        var cpuRows = new List<string>();
        foreach (var level in levels)
        {
            var (spec, gguf, catalog, manifest) = BenchModel.Create(root, BenchShapes.ForShape(shape, DType.F32, layers), level);
            var tokens = Enumerable.Range(0, prompt).Select(i => 3 + i * 7919 % (spec.Vocab - 3)).ToArray();

            // One untimed warm-up run of each engine (JIT, first touches), then the repetitions alternate the engines:
            // this machine's speed drifts by tens of percent over a minute (other tenants), and back-to-back blocks of
            // one engine then the other measured that drift as much as the engines.
            var ours = new BenchPhaseTimes[repeat];
            var theirs = new BenchPhaseTimes[repeat];
            using (var llama = LlamaCppModel.Load(gguf, threads, contextLength: prompt + gen + 8))
            {
                Vib3Once(catalog, manifest, tokens, gen);
                llama.BenchPhases(prompt, gen);
                for (var i = 0; i < repeat; i++)
                {
                    ours[i] = Vib3Once(catalog, manifest, tokens, gen);
                    theirs[i] = llama.BenchPhases(prompt, gen);
                }
            }

            var size = GgufSize.Of(gguf);
            rows.Add(Row(level.Name, size, ours, theirs, t => (t.PrefillTokensPerSecond, t.DecodeTokensPerSecond)));
            cpuRows.Add(Row(level.Name, size, ours, theirs, t => (t.PrefillTokensPerCpuSecond, t.DecodeTokensPerCpuSecond)));
            mixes.Add($"{level.Name}: {size.Mix}");
            Directory.Delete(root, recursive: true);
        }

        Console.WriteLine();
        Console.WriteLine((shape == "kimi"
                              ? $"Kimi-K2-shaped deepseek2, {layers} layers, d 1024, MLA 64 heads (q rank 1536, kv rank 512), 384 experts top-8 + 1 shared, vocab 32000; "
                              : $"Mixtral-shaped, {layers} layers, d 1024, expert hidden 2816, 8 experts top-2, vocab 32000; ") +
                          $"{threads} threads; prompt {prompt}, generate {gen}; a warm-up, then {repeat} runs alternating the engines; " +
                          "min / median tok/s; ratio: median of the paired runs' ratios");
        Console.WriteLine("level    GB     bpw    vib3 prefill      llama.cpp prefill   ratio   vib3 decode       llama.cpp decode    ratio");
        foreach (var r in rows) Console.WriteLine(r);
        Console.WriteLine("per CPU-second (tokens ÷ the process's CPU seconds in the phase; with --threads 1 what the machine would give alone, whatever the load):");
        foreach (var r in cpuRows) Console.WriteLine(r);
        Console.WriteLine("tensor bytes by type: " + string.Join("; ", mixes));
        return 0;
    }

    internal static BenchPhaseTimes Vib3Once(ModelCatalog catalog, ModelManifest m, int[] tokens, int gen)
    {
        var options = new PageStoreOptions { RamBudgetBytes = m.PageBytes + (1L << 30) };
        using var pass = SequencePass.OpenAsync(catalog, "bench", options, tokens.Length + gen + 8).GetAwaiter().GetResult();
        // Warm the T2 tier first: the comparison is of compute on weights in RAM, as llama.cpp has them.
        pass.Weights.Store.ReadManyAsync(Enumerable.Range(0, m.PageCount).ToList(), (_, _) => ValueTask.CompletedTask).GetAwaiter().GetResult();

        var cpu = CpuClock.Seconds();
        var clock = Stopwatch.StartNew();
        var logits = pass.LogitsAsync(tokens, allPositions: false).GetAwaiter().GetResult()[0];
        var prefill = clock.Elapsed.TotalSeconds;
        var prefillCpu = CpuClock.Seconds() - cpu;

        cpu = CpuClock.Seconds();
        clock.Restart();
        var next = VectorOps.ArgMax(logits);
        for (var i = 0; i < gen; i++)
            next = VectorOps.ArgMax(pass.Forward.DecodeAsync(next, pass.Cache).AsTask().GetAwaiter().GetResult());
        return new BenchPhaseTimes(tokens.Length, gen, prefill, clock.Elapsed.TotalSeconds, prefillCpu, CpuClock.Seconds() - cpu);
    }

    /// <summary>One level's line: min / median of both engines' prefill and decode rates as <paramref name="rate"/>
    /// reads them from a run (per wall or per CPU second), and the median of the paired ratios (repetition i of vib3
    /// over repetition i of llama.cpp, run next to each other).</summary>
    private static string Row(string level, GgufSize size, BenchPhaseTimes[] ourRuns, BenchPhaseTimes[] theirRuns,
        Func<BenchPhaseTimes, (double Prefill, double Decode)> rate)
    {
        var ours = ourRuns.Select(rate).ToArray();
        var theirs = theirRuns.Select(rate).ToArray();
        string Pair(IEnumerable<double> xs) => string.Create(CultureInfo.InvariantCulture, $"{xs.Min(),7:0.0} {StoreBench.Median(xs.ToList()),7:0.0}");
        var prefillRatio = StoreBench.Median(ours.Zip(theirs, (o, t) => o.Prefill / t.Prefill).ToList());
        var decodeRatio = StoreBench.Median(ours.Zip(theirs, (o, t) => o.Decode / t.Decode).ToList());
        return string.Create(CultureInfo.InvariantCulture,
            $"{level,-7} {size.Gigabytes,5:0.00}  {size.BitsPerWeight,5:0.00}  {Pair(ours.Select(o => o.Prefill))}   {Pair(theirs.Select(t => t.Prefill))}   {prefillRatio,5:0.00}   " +
            $"{Pair(ours.Select(o => o.Decode))}   {Pair(theirs.Select(t => t.Decode))}   {decodeRatio,5:0.00}");
    }
}
