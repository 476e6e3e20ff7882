using System.Globalization;
using System.Text.Json;
using Vib3.LlamaCpp;

namespace Vib3.Bench;

/// <summary>One engine's decode in a child process held to a memory limit, with the OS cache dropped first: vib3
/// through its CLI (`vib3 bench`, the command a user would time) and llama.cpp through this tool's hidden
/// <see cref="TiersLlamaWorker"/> mode. A child per run keeps one engine's heap, mappings and cache out of the
/// other's figures, and lets the cgroup's peak be the engine's whole footprint.</summary>
/// <param name="llamaRepack">llama.cpp's default (true) or llama-cli's --no-repack (false): see <see cref="LlamaCppModel.Load"/>.</param>
internal sealed class TiersEngines(string vib3Cli, int threads, TimeSpan timeout, bool llamaRepack)
{
    /// <summary>One untimed warm-up run first, so the JIT has compiled the kernels (llama.cpp's are native); --cold then
    /// drops vib3's RAM tier and the OS cache before the measured run, so its pages still come from disk. Without the
    /// warm-up a 32-token decode of the 0.4 GB Q4_K_M model measured 27 tok/s, with it 93–117.</summary>
    public EngineRun Vib3(string dataDir, long ramBudgetBytes, long? limitBytes, int prompt, int gen, string policy, string? trace)
    {
        var args = new List<string>
        {
            "--data-dir", dataDir, "--ram-budget", ramBudgetBytes.ToString(CultureInfo.InvariantCulture), "--cache-policy", policy,
            "bench", "--model", "bench", "--prompt-tokens", Num(prompt), "--gen-tokens", Num(gen), "--threads", Num(threads),
            "--context", Num(prompt + gen + 8), "--warmup", "1", "--repetitions", "1", "--cold",
        };
        if (trace is not null) args.AddRange(["--trace", trace]);
        return Once(vib3Cli, args, limitBytes, j =>
        {
            var bytes = j.GetProperty("decode_bytes_per_token");
            var (hits, misses) = (j.GetProperty("decode_page_hits").GetInt64(), j.GetProperty("decode_page_misses").GetInt64());
            var (ram, disk) = (bytes.GetProperty("ram").GetInt64(), bytes.GetProperty("disk").GetInt64());
            return new EngineRun(j.GetProperty("decode_tokens_per_second").GetProperty("mean").GetDouble(), disk, 0, null,
                hits + misses > 0 ? (double)hits / (hits + misses) : 0, ram + disk > 0 ? (double)ram / (ram + disk) : 0);
        });
    }

    public EngineRun LlamaCpp(string gguf, int prompt, int gen, long? limitBytes)
    {
        var (exe, prefix) = Self();
        return Once(exe, [.. prefix, TiersLlamaWorker.Mode, gguf, Num(prompt), Num(gen), Num(threads), llamaRepack.ToString()], limitBytes,
            j => new EngineRun(j.GetProperty("decode_tokens_per_second").GetDouble(), 0, 0, null));
    }

    /// <summary>vib3's CLI next to this tool's build: --artifacts-path puts both under bin/&lt;project&gt;/&lt;config&gt;/,
    /// a plain build under &lt;project&gt;/bin/&lt;Config&gt;/&lt;tfm&gt;/.</summary>
    public static string FindVib3Cli(string given)
    {
        if (given.Length > 0) return given;
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string[] candidates =
        [
            Path.Combine(here.Parent!.Parent!.FullName, "Vib3.Cli", here.Name, "vib3"),
            Path.Combine(here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName, "src", "Vib3.Cli", "bin", here.Parent!.Name, here.Name, "vib3"),
        ];
        return candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(
            "vib3's CLI is not built next to vib3-bench; build src/Vib3.Cli with the same configuration (and --artifacts-path) " +
            $"or pass --vib3 PATH (looked at: {string.Join(", ", candidates)})");
    }

    private EngineRun Once(string exe, IEnumerable<string> args, long? limitBytes, Func<JsonElement, EngineRun> read)
    {
        Cache.Drop();
        using var group = new MemoryCgroup($"vib3-tiers-{Environment.ProcessId}", limitBytes);
        var run = group.Run(exe, args, timeout);
        if (!run.Ok)
        {
            Console.Error.WriteLine($"  {Path.GetFileName(exe)} failed ({run.Failure}): {Head(run.Stderr)}");
            return new EngineRun(0, 0, run.PeakBytes, run.Failure) { PeakAnonBytes = run.PeakAnonBytes };
        }
        // The result is the last JSON object on stdout (vib3 bench indents it; a native library may log before it).
        var lines = run.Stdout.Split('\n');
        var first = Array.FindLastIndex(lines, l => l.StartsWith('{'));
        using var doc = JsonDocument.Parse(string.Join('\n', lines[first..]));
        return read(doc.RootElement) with { PeakBytes = run.PeakBytes, PeakAnonBytes = run.PeakAnonBytes };
    }

    /// <summary>How to start this tool again: its apphost, or `dotnet vib3-bench.dll` when run that way.</summary>
    private static (string Exe, string[] Prefix) Self()
    {
        var exe = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(exe) == "dotnet" ? (exe, [typeof(TiersEngines).Assembly.Location]) : (exe, []);
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    // The head of stderr: the exception message, before its stack.
    private static string Head(string s) => s.Length > 600 ? s[..600] : s;
}

/// <summary>Decode tok/s, disk bytes per decoded token (vib3 only), the cgroup's peak, why it failed if it did, and
/// (vib3 only) the share of decode's page reads and bytes served from RAM.</summary>
internal sealed record EngineRun(double TokensPerSecond, long DiskBytesPerToken, long PeakBytes, string? Failure,
    double PageHitRate = 0, double ByteHitRate = 0)
{
    /// <summary>The sampled peak of the run's anonymous memory (what the limit cannot evict).</summary>
    public long PeakAnonBytes { get; init; }
}
