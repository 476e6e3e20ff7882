using System.CommandLine;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Kernels.Gpu;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Cli;

/// <summary>Options every command accepts.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> DataDir = new("--data-dir")
    {
        Description = "Where models are stored (default: $VIB3_DATA_DIR, else ~/.vib3)",
        Recursive = true,
    };

    public static readonly Option<string> RamBudget = new("--ram-budget")
    {
        Description = "Host RAM for model pages (e.g. 512MiB, 2GiB), engine-wide, shared by every open model; pages beyond it are read from disk on demand " +
                      "(default: 75% of the memory this process may use: the machine's, or its cgroup's limit when smaller)",
        Recursive = true,
    };

    /// <summary>The share of the process's memory (<see cref="MemoryLimit"/>) the RAM budget defaults to: the rest is for
    /// KV caches, activations and the runtime (DuckDB's default is 80 % of RAM).</summary>
    public const double DefaultRamShare = 0.75;

    /// <summary>Where the default budget comes from: a share of <see cref="MemoryLimit.Read"/>, or 2 GiB where the
    /// memory cannot be read (said so).</summary>
    private static readonly Lazy<(long Bytes, string Why)> DefaultRamBudget = new(() => MemoryLimit.Read() is var (bytes, source)
        ? ((long)(DefaultRamShare * bytes), string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{DefaultRamShare:0%} of the {ByteSize.Format(bytes)} this process may use, {source}"))
        : (2L << 30, "2 GiB: this system does not say how much memory the process may use"));

    public static readonly Option<string> CachePolicy = new("--cache-policy")
    {
        Description = "Which pages the RAM tier evicts first: lfru (default; expert-aware: decayed frequency per page, prefetched pages kept until read, dense pages last) or lru (least recently used)",
        DefaultValueFactory = _ => "lfru",
        Recursive = true,
    };

    public static readonly Option<string> Accelerator = new("--accelerator")
    {
        Description = "Which accelerator runs the products of the dense matrices that fit --vram-budget: none (default: the CPU runs everything), " +
                      "auto (a CUDA device if one starts, else the CPU), cuda, or ilgpu-cpu (the GPU kernels on ILGPU's CPU emulator, for checks); " +
                      "a device that is missing or fails its self-test leaves the CPU running everything, with a notice on stderr",
        DefaultValueFactory = _ => "none",
        Recursive = true,
    };

    public static readonly Option<string?> VramBudget = new("--vram-budget")
    {
        Description = "Device memory for resident weights (e.g. 6GiB), engine-wide; default: the device's memory less 1 GiB. More than the device has is refused",
        Recursive = true,
    };

    /// <summary>The catalog of --data-dir. Every command checks the global options up front, so a mistyped
    /// budget or policy is reported whatever the command.</summary>
    public static ModelCatalog Catalog(ParseResult r)
    {
        RamBudgetBytes(r);
        CachePolicyOf(r);
        AcceleratorChoices.Parse(r.GetValue(Accelerator)!);
        VramBudgetBytes(r);
        var dir = ModelCatalog.ResolveDataDir(r.GetValue(DataDir));
        if (File.Exists(dir))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"data directory {dir} is a file, not a directory");
        return new ModelCatalog(dir);
    }

    public static long RamBudgetBytes(ParseResult r) => r.GetValue(RamBudget) is { } text ? ByteSize.Parse(text) : DefaultRamBudget.Value.Bytes;

    /// <summary>"2.00 GiB (--ram-budget)" or "17.3 GiB (75% of the 23.5 GiB this process may use, the machine's
    /// memory)": the budget and where it came from, for the serve banner.</summary>
    public static string RamBudgetLine(ParseResult r) =>
        $"{ByteSize.Format(RamBudgetBytes(r))} ({(r.GetValue(RamBudget) is null ? DefaultRamBudget.Value.Why : "--ram-budget")})";

    public static CachePolicy CachePolicyOf(ParseResult r) => CachePolicies.Parse(r.GetValue(CachePolicy)!);

    private static long? VramBudgetBytes(ParseResult r) => r.GetValue(VramBudget) is { } text ? ByteSize.Parse(text) : null;

    /// <summary>The engine's options for the catalog in <paramref name="dataDir"/>, from the global options.</summary>
    public static EngineOptions EngineOptions(ParseResult r, string dataDir) =>
        new(dataDir, RamBudgetBytes(r))
        {
            CachePolicy = CachePolicyOf(r), Accelerator = AcceleratorChoices.Parse(r.GetValue(Accelerator)!), VramBudgetBytes = VramBudgetBytes(r),
        };

    /// <summary>The engine for <paramref name="options"/>; when an accelerator was asked for and the CPU runs everything
    /// instead, says why on stderr.</summary>
    public static Vib3Engine OpenEngine(ParseResult r, EngineOptions options)
    {
        var engine = new Vib3Engine(options);
        if (engine.AcceleratorNotice is { } notice) r.InvocationConfiguration.Error.WriteLine($"vib3: notice: {notice}");
        return engine;
    }
}
