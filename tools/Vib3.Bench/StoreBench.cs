using System.Diagnostics;
using System.Globalization;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Bench;

/// <summary>
/// vib3-bench store [--size-mb N] [--repeat N] [--dir PATH]
/// Prints, with the OS page cache dropped before every cold measurement:
/// conversion MB/s (synthetic HF checkpoint → store),
/// cold page reads through the store (O_DIRECT device, reads in flight) vs a plain sequential read of the same
/// log files (the reference), as a ratio, and the same with FASTER's stock device,
/// warm hits (pages already in the T2 cache), and the conversion's peak memory.
/// </summary>
internal static class StoreBench
{
    public static int Run(string[] args)
    {
        var sizeMb = Args.Int(args, "--size-mb", 1024);
        var repeat = Args.Int(args, "--repeat", 3);
        var root = Args.Str(args, "--dir", Path.Combine(Path.GetTempPath(), "vib3-bench"));
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);

        // Mixtral-shaped: d 1024, expert hidden 2816, 8 experts; layers scale to the requested size (bf16).
        var perLayer = 8L * 3 * 1024 * 2816 * 2;
        var layers = (int)Math.Max(1, sizeMb * 1_000_000L / perLayer);
        var spec = new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = layers, Dim = 1024, ExpertHidden = 2816, Heads = 16, KvHeads = 4,
            Experts = 8, TopK = 2, Vocab = 4096, Context = 4096, Seed = 1, DType = DType.BF16,
        };
        var source = Path.Combine(root, "source");
        Console.WriteLine($"generating synthetic Mixtral-shaped checkpoint: {layers} layers, bf16 ...");
        SyntheticModelGenerator.WriteHf(spec, source);
        var sourceBytes = Directory.EnumerateFiles(source, "*.safetensors").Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"source: {sourceBytes / 1e6:0} MB; cold-cache drop {(Cache.CanDrop ? "works" : "NOT available: cold figures are warm")}");
        Console.WriteLine();

        var convert = new List<double>();
        var convertRss = new List<double>();
        var writePhase = new List<double>();
        var cold = new List<double>();
        var cold64 = new List<double>();
        var plain = new List<double>();
        var stock = new List<double>();
        var warm = new List<double>();
        ModelManifest? manifest = null;
        for (var i = 0; i < repeat; i++)
        {
            var catalog = new ModelCatalog(Path.Combine(root, "data"));
            if (catalog.Exists("bench")) catalog.Drop("bench");
            Cache.Drop();
            GC.Collect();
            using (var rss = new PeakRss())
            {
                var clock = Stopwatch.StartNew();
                var writeSeconds = 0.0;
                var phases = new PhaseClock(phase => { if (phase == "verify" && writeSeconds == 0) writeSeconds = clock.Elapsed.TotalSeconds; });
                manifest = new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(source, "bench"), phases);
                convert.Add(sourceBytes / 1e6 / clock.Elapsed.TotalSeconds);
                writePhase.Add(sourceBytes / 1e6 / writeSeconds);
                convertRss.Add(rss.PeakAboveStartBytes / 1e6);
            }

            var dir = catalog.ModelDir("bench");
            var pages = Enumerable.Range(0, manifest.PageCount).ToList();
            cold.Add(ReadAll(dir, pages, new PageStoreOptions { RamBudgetBytes = 256L << 20, DirectIo = true }, manifest.PageBytes, dropFirst: true));
            cold64.Add(ReadAll(dir, pages, new PageStoreOptions { RamBudgetBytes = 512L << 20, DirectIo = true, ReadsInFlight = 64 }, manifest.PageBytes, dropFirst: true));
            stock.Add(ReadAll(dir, pages, new PageStoreOptions { RamBudgetBytes = 256L << 20, DirectIo = false }, manifest.PageBytes, dropFirst: true));
            plain.Add(SequentialRead(Path.Combine(dir, "log")));

            using var store = PageStore.Open(dir, "bench", new PageStoreOptions { RamBudgetBytes = manifest.PageBytes * 2 + (64L << 20) });
            store.ReadManyAsync(pages, (_, _) => ValueTask.CompletedTask).GetAwaiter().GetResult();
            var warmClock = Stopwatch.StartNew();
            foreach (var page in pages)
            {
                using var lease = store.ReadAsync(page).GetAwaiter().GetResult();
            }
            warm.Add(warmClock.Elapsed.TotalMicroseconds / pages.Count);
            if (store.Stats.Hits < pages.Count) throw new InvalidOperationException("warm pass did not hit the cache");
        }

        Console.WriteLine($"model: {manifest!.PageCount} pages, {manifest.PageBytes / 1e6:0} MB, R = {manifest.PageRows}, largest page {manifest.MaxPageBytes / 1024} KiB; {repeat} runs, min / median");
        Row("conversion (source MB/s)", convert);
        Row("  of which writing pages (source MB/s)", writePhase);
        Row("conversion peak RSS above start (MB)", convertRss);
        Row("cold store reads, O_DIRECT, 16 in flight (MB/s)", cold);
        Row("cold store reads, O_DIRECT, 64 in flight (MB/s)", cold64);
        Row("cold store reads, FASTER stock device (MB/s)", stock);
        Row("reference: plain sequential read (MB/s)", plain);
        Row("warm hit, one page at a time (µs/page)", warm, "0.00");
        Console.WriteLine($"ratio cold store O_DIRECT / plain sequential: {Median(cold) / Median(plain):0.00} (median)");
        Console.WriteLine($"ratio cold store O_DIRECT 64 / plain sequential: {Median(cold64) / Median(plain):0.00} (median)");
        Console.WriteLine($"ratio cold store stock    / plain sequential: {Median(stock) / Median(plain):0.00} (median)");
        Directory.Delete(root, recursive: true);
        return 0;
    }

    private static double ReadAll(string dir, List<int> pages, PageStoreOptions options, long bytes, bool dropFirst)
    {
        if (dropFirst) Cache.Drop();
        using var store = PageStore.Open(dir, "bench", options);
        var clock = Stopwatch.StartNew();
        store.ReadManyAsync(pages, (_, _) => ValueTask.CompletedTask).GetAwaiter().GetResult();
        return bytes / 1e6 / clock.Elapsed.TotalSeconds;
    }

    private static double SequentialRead(string logDir)
    {
        Cache.Drop();
        var buffer = new byte[4 << 20];
        long total = 0;
        var clock = Stopwatch.StartNew();
        foreach (var file in Directory.EnumerateFiles(logDir).Order())
        {
            using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            int n;
            while ((n = fs.Read(buffer)) > 0) total += n;
        }
        return total / 1e6 / clock.Elapsed.TotalSeconds;
    }

    internal static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    internal static void Row(string name, List<double> xs, string format = "0") =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name,-50} {xs.Min().ToString(format, CultureInfo.InvariantCulture),10} {Median(xs).ToString(format, CultureInfo.InvariantCulture),10}"));
}
