using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Vib3.Index;

// vib3-indexbench [--scale 0.1] [--datasets iid,clustered,ip1024] [--ef 10,16,...] [--queries 1000] [--m 16]
//                 [--ef-construction 200] [--build-threads 1] [--export DIR]
// Builds HNSW on generated datasets and prints, per ef: recall@10 (ann-benchmarks rule), queries/s, distance
// computations per query, and the speed-up over brute force (ExactIndex), one search thread.

var scale = 1.0;
var datasets = new List<string> { "iid", "clustered", "ip1024" };
int[] efs = [10, 16, 32, 64, 128, 256, 512, 1024, 2048];
var queries = 1000;
var m = 16;
var efConstruction = 200;
var buildThreads = 1;
string? export = null;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--scale": scale = double.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--datasets": datasets = [.. Next().Split(',')]; break;
        case "--ef": efs = [.. Next().Split(',').Select(int.Parse)]; break;
        case "--queries": queries = int.Parse(Next()); break;
        case "--m": m = int.Parse(Next()); break;
        case "--ef-construction": efConstruction = int.Parse(Next()); break;
        case "--build-threads": buildThreads = int.Parse(Next()); break;
        case "--export": export = Next(); break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}
const int K = 10;
Console.WriteLine($"# vib3-indexbench: scale {scale}, M {m}, efConstruction {efConstruction}, k {K}, {queries} queries, build threads {buildThreads}, search threads 1");
Console.WriteLine($"# {RuntimeInformation.OSArchitecture}, {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.FrameworkDescription}");
if (export is not null) Directory.CreateDirectory(export);

foreach (var name in datasets)
{
    var spec = Dataset.Specs.Single(s => s.Name == name);
    var count = Math.Max(1000, (int)(spec.Count * scale));
    var (data, query) = Dataset.Generate(spec, count, queries);
    var dims = spec.Dimensions;
    var exact = new ExactIndex(data, dims, spec.Metric);

    // Ground truth: ids and scores of the true top k (scores decide recall: a result counts if its score is at
    // least the k-th true score, so ties do not penalise). Parallel: it is not what is measured.
    var truth = new Neighbor[queries * K];
    Parallel.For(0, queries, q => exact.Search(query.AsSpan(q * dims, dims), K, truth.AsSpan(q * K, K)));
    // Brute-force speed, one thread, on a slice of the queries (it is slow, and steady).
    var bruteQueries = Math.Min(queries, 200);
    var buffer = new Neighbor[K];
    var sw = Stopwatch.StartNew();
    for (var q = 0; q < bruteQueries; q++) exact.Search(query.AsSpan(q * dims, dims), K, buffer);
    var bruteQps = bruteQueries / sw.Elapsed.TotalSeconds;

    if (export is not null) Dataset.Export(export, name, spec, count, data, query, truth);

    sw.Restart();
    var index = new HnswIndex(data, dims, spec.Metric, new HnswOptions(m, efConstruction, 1, buildThreads));
    var buildSeconds = sw.Elapsed.TotalSeconds;
    Console.WriteLine();
    Console.WriteLine($"## {name}: {count} x {dims}, {spec.Metric}; build {buildSeconds:F1} s ({count / buildSeconds:F0} inserts/s, {index.BuildDistanceComputations / (double)count:F0} distances/insert), max level {index.MaxLevel}; brute force {bruteQps:F1} q/s");
    Console.WriteLine($"{"ef",6} {"recall@10",10} {"q/s",10} {"dist/query",11} {"speed-up",9}");
    var results = new Neighbor[K];
    // Warm-up: tiered JIT (tier 0 → instrumented → optimised, with a back-off while anything is still being
    // jitted) and caches, so the first ef row is not penalised. By time, not count: a fast dataset needs more calls.
    var warm = Stopwatch.StartNew();
    for (var pass = 0; pass < 3 || warm.Elapsed.TotalSeconds < 2; pass++)
        for (var q = 0; q < queries; q++) index.Search(query.AsSpan(q * dims, dims), K, results, 32);
    foreach (var ef in efs)
    {
        var hits = 0L;
        index.ResetDistanceComputations();
        sw.Restart();
        for (var q = 0; q < queries; q++)
        {
            var n = index.Search(query.AsSpan(q * dims, dims), K, results, ef);
            var kth = truth[q * K + K - 1].Score;
            for (var j = 0; j < n; j++)
                if (results[j].Score >= kth) hits++;
        }
        var seconds = sw.Elapsed.TotalSeconds;
        var qps = queries / seconds;
        Console.WriteLine($"{ef,6} {hits / (double)(queries * K),10:F4} {qps,10:F0} {index.DistanceComputations / (double)queries,11:F0} {qps / bruteQps,8:F1}x");
    }
}
return 0;

internal sealed record DatasetSpec(string Name, int Count, int Dimensions, VectorMetric Metric, int Clusters, ulong Seed);

internal static class Dataset
{
    public static readonly DatasetSpec[] Specs =
    [
        new("iid", 100_000, 128, VectorMetric.L2, 0, 11),
        new("clustered", 100_000, 128, VectorMetric.L2, 100, 12),
        new("ip1024", 50_000, 1024, VectorMetric.InnerProduct, 0, 13),
    ];

    /// <summary>[count, dims] data and [queries, dims] queries from the same distribution: i.i.d. N(0,1), or a random
    /// centre (N(0,1), one of spec.Clusters) plus 0.1·N(0,1). Seeded, so every run (and the export) has the same data.</summary>
    public static (float[] Data, float[] Queries) Generate(DatasetSpec spec, int count, int queries)
    {
        var random = new Gaussian(spec.Seed);
        var dims = spec.Dimensions;
        float[]? centres = null;
        if (spec.Clusters > 0)
        {
            centres = new float[spec.Clusters * dims]; // [clusters, dims]
            for (var i = 0; i < centres.Length; i++) centres[i] = random.Next();
        }
        float[] Draw(int n)
        {
            var v = new float[n * dims]; // [n, dims]
            for (var r = 0; r < n; r++)
            {
                var centre = centres is null ? -1 : (int)(random.NextUInt() % (ulong)spec.Clusters);
                for (var d = 0; d < dims; d++)
                    v[r * dims + d] = centres is null ? random.Next() : centres[centre * dims + d] + 0.1f * random.Next();
            }
            return v;
        }
        var data = Draw(count);
        return (data, Draw(queries));
    }

    /// <summary>Raw little-endian files for other drivers: NAME.base.f32 [count, dims], NAME.query.f32 [queries, dims],
    /// NAME.gt.i32 / NAME.gtscore.f32 [queries, k] (true ids and vib3 scores, best first), and one line per dataset in
    /// manifest.txt: name metric count dims queries k.</summary>
    public static void Export(string dir, string name, DatasetSpec spec, int count, float[] data, float[] queries, Neighbor[] truth)
    {
        File.WriteAllBytes(Path.Combine(dir, $"{name}.base.f32"), MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(dir, $"{name}.query.f32"), MemoryMarshal.AsBytes(queries.AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(dir, $"{name}.gt.i32"), MemoryMarshal.AsBytes(truth.Select(t => t.Id).ToArray().AsSpan()).ToArray());
        File.WriteAllBytes(Path.Combine(dir, $"{name}.gtscore.f32"), MemoryMarshal.AsBytes(truth.Select(t => t.Score).ToArray().AsSpan()).ToArray());
        var k = truth.Length / (queries.Length / spec.Dimensions);
        var manifest = Path.Combine(dir, "manifest.txt");
        var lines = File.Exists(manifest) ? File.ReadAllLines(manifest).Where(l => !l.StartsWith(name + " ")).ToList() : [];
        lines.Add($"{name} {(spec.Metric == VectorMetric.L2 ? "l2" : "ip")} {count} {spec.Dimensions} {queries.Length / spec.Dimensions} {k}");
        File.WriteAllLines(manifest, lines);
    }
}

/// <summary>N(0,1) by Box–Muller over SplitMix64: fixed algorithms, so the data is the same on every runtime.</summary>
internal sealed class Gaussian(ulong seed)
{
    private ulong _state = seed;
    private float? _spare;

    public ulong NextUInt()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E9B5UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public float Next()
    {
        if (_spare is { } s)
        {
            _spare = null;
            return s;
        }
        var u1 = ((NextUInt() >> 11) + 1) * (1.0 / (1UL << 53)); // (0, 1]
        var u2 = (NextUInt() >> 11) * (1.0 / (1UL << 53));
        var r = Math.Sqrt(-2 * Math.Log(u1));
        _spare = (float)(r * Math.Sin(2 * Math.PI * u2));
        return (float)(r * Math.Cos(2 * Math.PI * u2));
    }
}
