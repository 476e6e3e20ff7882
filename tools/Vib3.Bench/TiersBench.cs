using System.Globalization;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>
/// vib3-bench tiers: out-of-core decode on a synthetic model (--shape mixtral: the forward-pass issue's Mixtral;
/// kimi: Kimi K2's routing and attention layout, widths scaled) in one --dtype: f32, f16, bf16 and q8_0 written by the
/// synthetic generator, any other llama-quantize level (q4_k_m, q2_k, ...) made by llama.cpp's quantizer, so that
/// llama.cpp maps the file people download and vib3 runs its conversion of that same file. Per RAM budget (percent of the memory the model's
/// pages take as cache buffers, or "8G": GiB),
/// vib3's decode tok/s and disk bytes per token, the disk-bandwidth bound (O_DIRECT bandwidth measured in the same
/// run ÷ disk bytes per token), and llama.cpp (mmap) held to the same memory cgroup limit; every run a child
/// process with the OS cache dropped first. Root only (drop_caches, cgroup v1 memory controller).
/// </summary>
internal static class TiersBench
{
    public static int Run(string[] args)
    {
        var layers = Args.Int(args, "--layers", 8);
        var dtype = Args.Str(args, "--dtype", "f32");
        var shape = Args.Str(args, "--shape", "mixtral");
        var budgets = Args.Str(args, "--budgets", "100,50,30,15").Split(',');
        var prompt = Args.Int(args, "--prompt", 16);
        var gen = Args.Int(args, "--gen", 32);
        var llamaGen = Args.Int(args, "--llama-gen", 8);
        var repeat = Args.Int(args, "--repeat", 1);
        var threads = Args.Int(args, "--threads", 2);
        var policy = Args.Str(args, "--cache-policy", "lfru");
        var trace = Args.Str(args, "--trace", "");
        // Above the tiny model's measured runtime peak: what grows with the real model's width and not its weights
        // (KV cache, activations, llama.cpp's compute buffer, logits), for both engines.
        var headroom = (long)Args.Int(args, "--headroom-mb", 64) << 20;
        var root = Path.GetFullPath(Args.Str(args, "--dir", Path.Combine(Path.GetTempPath(), "vib3-tiers-bench")));
        if (!MemoryCgroup.Available || !Cache.CanDrop)
        {
            Console.Error.WriteLine("vib3-bench tiers needs root: the cgroup v1 memory controller and /proc/sys/vm/drop_caches");
            return 2;
        }
        var llamaRepack = Args.Str(args, "--llama-repack", "on") switch
        {
            "on" => true,
            "off" => false,
            var other => throw new ArgumentException($"--llama-repack on|off, not '{other}'"),
        };
        var engines = new TiersEngines(TiersEngines.FindVib3Cli(Args.Str(args, "--vib3", "")), threads,
            TimeSpan.FromSeconds(Args.Int(args, "--timeout-s", 600)), llamaRepack);

        var model = BenchModel.CreateNamed(root, BenchShapes.ForShape(shape, DType.F32, layers), dtype);
        var size = GgufSize.Of(model.Gguf);
        var m = model.Manifest;
        // The store's log folder (LogLayout.LogDirName, internal to Vib3.Storage): the bytes decode streams.
        var log = Directory.GetFiles(Path.Combine(model.Catalog.ModelDir("bench"), "log"));
        // As many reads in flight as the store keeps, so the bound is what the same queue depth can get.
        var inFlight = new PageStoreOptions().ReadsInFlight;
        var disk = DiskBandwidth.Best(log, inFlight);
        Console.WriteLine($"disk: {disk.MBps:0} MB/s O_DIRECT ({disk.Shape}) over {log.Sum(f => new FileInfo(f).Length) / 1e6:0} MB of log");
        var allowance = RuntimeAllowance(root, shape, dtype, engines, prompt) + headroom;
        // A cached page costs its buffer (record header and sector padding): budget in page memory, not page bytes.
        var pageMemory = (long)m.PageCount * PageStore.PageCharge((int)(m.PageBytes / m.PageCount));
        Console.WriteLine($"model: {m.PageBytes / 1e6:0} MB of pages (largest {m.MaxPageBytes / 1e6:0.0} MB, {pageMemory / 1e6:0} MB " +
                          $"as cache buffers); runtime allowance {allowance / 1e6:0} MB");

        var runs = new List<(string Budget, long Limit, List<EngineRun> Ours, List<EngineRun> Theirs)>();
        foreach (var budget in budgets)
        {
            var (label, bytes) = Budget(budget, pageMemory);
            var ramBudget = Math.Max(bytes, PageStore.MinimumRamBudget(m.MaxPageBytes));
            var limit = ramBudget + allowance;
            Console.WriteLine($"[{label}] ram budget {ramBudget / 1e6:0} MB, cgroup limit {limit / 1e6:0} MB ...");
            var ours = Enumerable.Range(0, repeat).Select(_ => engines.Vib3(model.Catalog.DataDir, ramBudget, limit, prompt, gen, policy, null)).ToList();
            var theirs = Enumerable.Range(0, repeat).Select(_ => engines.LlamaCpp(model.Gguf, prompt, llamaGen, limit)).ToList();
            // Each run on its own line (the table gives medians): the spread, min and max, stays visible.
            foreach (var r in ours)
                Console.WriteLine($"  vib3 run: {r.TokensPerSecond:0.00} tok/s, {r.DiskBytesPerToken / 1e6:0.0} MB/tok from disk, peak {r.PeakBytes / 1e6:0} MB (anonymous {r.PeakAnonBytes / 1e6:0} MB){(r.Failure is null ? "" : $" ({r.Failure})")}");
            foreach (var r in theirs)
                Console.WriteLine($"  llama.cpp run: {r.TokensPerSecond:0.00} tok/s, peak {r.PeakBytes / 1e6:0} MB (anonymous {r.PeakAnonBytes / 1e6:0} MB){(r.Failure is null ? "" : $" ({r.Failure})")}");
            runs.Add((label, limit, ours, theirs));
        }
        // Again after the runs: the bound uses the best the disk did at either end (its bandwidth drifts).
        var after = DiskBandwidth.Best(log, inFlight);
        if (after.MBps > disk.MBps) disk = after;
        var mbps = disk.MBps;
        var rows = runs.Select(r => Row(r.Budget, r.Limit, mbps, r.Ours, r.Theirs)).ToList();

        Console.WriteLine();
        Console.WriteLine($"{(shape == "kimi" ? "Kimi-K2" : "Mixtral")}-shaped {dtype}, {layers} layers ({size.Gigabytes:0.00} GB GGUF, " +
                          $"{size.BitsPerWeight:0.00} bits per weight: {size.Mix}), {threads} threads, " +
                          $"prompt {prompt}; vib3 decodes {gen} tokens ({policy}), llama.cpp (mmap, repack {(llamaRepack ? "on" : "off")}) {llamaGen}; median of {repeat}; " +
                          $"disk {mbps:0} MB/s ({disk.Shape}, best pass before and after the runs); limit = budget + runtime allowance {allowance / 1e6:0} MB " +
                          $"(probe peak + {headroom >> 20} MiB headroom)");
        Console.WriteLine("budget  limit MB  vib3 tok/s  disk MB/tok  vib3 read MB/s  bound tok/s  % bound  page hits  byte hits  vib3 peak MB  llama tok/s  llama peak MB  vib3/llama");
        foreach (var r in rows) Console.WriteLine(r);
        var status = trace.Length > 0 ? TracePolicies(engines, model, pageMemory * 30 / 100, prompt, gen, policy, trace) : 0;
        Directory.Delete(root, recursive: true);
        return status;
    }

    /// <summary>A page trace of a 30 % budget decode, replayed by vib3-bench policies. Its own run, not one of the
    /// timed ones, and without a memory limit: the recorder's buffers are not part of what the limit tests, and which pages
    /// decode reads does not depend on how much of them stays in RAM.</summary>
    private static int TracePolicies(TiersEngines engines, BenchModel model, long ramBudget, int prompt, int gen, string policy, string trace)
    {
        Console.WriteLine();
        var run = engines.Vib3(model.Catalog.DataDir, ramBudget, null, prompt, gen, policy, trace);
        if (run.Failure is not null) return 1;
        Console.WriteLine($"traced run (30 % budget, no limit): {run.TokensPerSecond:0.00} tok/s");
        return PolicyBench.Run(["--trace", trace]);
    }

    /// <summary>What each engine holds beyond the weights (the .NET runtime, JIT'd code, its binaries' page cache:
    /// vib3's assemblies, libllama), measured once as the unlimited cgroup peak of a run on a one-layer, d-64 model
    /// of the same vocabulary; the larger of the two (plus --headroom-mb), so both get the same limit.</summary>
    private static long RuntimeAllowance(string root, string shape, string dtype, TiersEngines engines, int prompt)
    {
        // Kimi's probe keeps the attention layout (its activations and llama.cpp's compute buffer scale with the heads).
        var tiny = BenchModel.CreateNamed(Path.Combine(root, "runtime-probe"), shape == "kimi"
            ? BenchShapes.KimiShaped(DType.F32, 2) with { Experts = 16 }
            : new SyntheticModelSpec { Family = ModelFamily.Mixtral, Layers = 1, Experts = 8, TopK = 2, Vocab = 32000, Context = 2048, Seed = 1, DType = DType.F32 },
            dtype);
        var budget = tiny.Manifest.PageBytes + (long)tiny.Manifest.PageCount * PageStore.MinimumRamBudget(tiny.Manifest.MaxPageBytes);
        var ours = engines.Vib3(tiny.Catalog.DataDir, budget, null, prompt, 4, "lfru", null);
        var theirs = engines.LlamaCpp(tiny.Gguf, prompt, 4, null);
        Console.WriteLine($"runtime probe ({tiny.Manifest.PageBytes / 1e6:0.0} MB model): vib3 peak {ours.PeakBytes / 1e6:0} MB, " +
                          $"llama.cpp peak {theirs.PeakBytes / 1e6:0} MB");
        if (ours.Failure is not null || theirs.Failure is not null)
            throw new InvalidOperationException("the runtime probe failed; see above");
        return Math.Max(ours.PeakBytes, theirs.PeakBytes);
    }

    /// <summary>"30": percent of the model's page memory; "8G": GiB.</summary>
    private static (string Label, long Bytes) Budget(string text, long pageMemory) =>
        text.EndsWith('G')
            ? ($"{text[..^1]} GiB", (long)(double.Parse(text[..^1], CultureInfo.InvariantCulture) * (1L << 30)))
            : ($"{text} %", pageMemory * int.Parse(text, CultureInfo.InvariantCulture) / 100);

    private static string Row(string budget, long limit, double mbps, List<EngineRun> ours, List<EngineRun> theirs)
    {
        var c = CultureInfo.InvariantCulture;
        var okOurs = ours.Where(r => r.Failure is null).ToList();
        var okTheirs = theirs.Where(r => r.Failure is null).ToList();
        double? tps = okOurs.Count > 0 ? StoreBench.Median(okOurs.Select(r => r.TokensPerSecond).ToList()) : null;
        double? llama = okTheirs.Count > 0 ? StoreBench.Median(okTheirs.Select(r => r.TokensPerSecond).ToList()) : null;
        double? diskMb = okOurs.Count > 0 ? StoreBench.Median(okOurs.Select(r => r.DiskBytesPerToken / 1e6).ToList()) : null;
        // Nothing read from disk per token (everything cached): no disk bound applies.
        double? bound = diskMb > 0 ? mbps / diskMb : null;
        double? pageHits = okOurs.Count > 0 ? StoreBench.Median(okOurs.Select(r => r.PageHitRate).ToList()) : null;
        double? byteHits = okOurs.Count > 0 ? StoreBench.Median(okOurs.Select(r => r.ByteHitRate).ToList()) : null;
        string F(double? v, string fmt, string? failure = null) => v is { } x ? x.ToString(fmt, c) : failure ?? "-";
        var vib3Failure = ours.FirstOrDefault(r => r.Failure is not null)?.Failure;
        var llamaFailure = theirs.FirstOrDefault(r => r.Failure is not null)?.Failure;
        return string.Create(c,
            $"{budget,7} {limit / 1e6,9:0} {F(tps, "0.00", vib3Failure),11} {F(diskMb, "0.0"),12} {F(tps * diskMb, "0"),15} {F(bound, "0.00"),12} " +
            $"{F(tps / bound * 100, "0"),8} {F(pageHits, "0.0%"),10} {F(byteHits, "0.0%"),10} {ours.Max(r => r.PeakBytes) / 1e6,13:0} {F(llama, "0.00", llamaFailure),12} " +
            $"{theirs.Max(r => r.PeakBytes) / 1e6,14:0} {F(tps / llama, "0.00"),11}");
    }
}
