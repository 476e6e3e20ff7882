using System.CommandLine;
using Vib3.Core;
using Vib3.Engine;
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
        Description = "Host RAM for model pages (e.g. 512MiB, 2GiB), engine-wide, shared by every open model; pages beyond it are read from disk on demand",
        DefaultValueFactory = _ => "2GiB",
        Recursive = true,
    };

    public static readonly Option<string> CachePolicy = new("--cache-policy")
    {
        Description = "Which pages the RAM tier evicts first: lfru (default; expert-aware: decayed frequency per page, prefetched pages kept until read, dense pages last) or lru (least recently used)",
        DefaultValueFactory = _ => "lfru",
        Recursive = true,
    };

    /// <summary>The catalog of --data-dir. Every command checks the global options up front, so a mistyped
    /// budget or policy is reported whatever the command.</summary>
    public static ModelCatalog Catalog(ParseResult r)
    {
        RamBudgetBytes(r);
        CachePolicyOf(r);
        var dir = ModelCatalog.ResolveDataDir(r.GetValue(DataDir));
        if (File.Exists(dir))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"data directory {dir} is a file, not a directory");
        return new ModelCatalog(dir);
    }

    public static long RamBudgetBytes(ParseResult r) => ByteSize.Parse(r.GetValue(RamBudget)!);

    public static CachePolicy CachePolicyOf(ParseResult r) => CachePolicies.Parse(r.GetValue(CachePolicy)!);

    /// <summary>The engine's options for the catalog in <paramref name="dataDir"/>, from the global options.</summary>
    public static EngineOptions EngineOptions(ParseResult r, string dataDir) =>
        new(dataDir, RamBudgetBytes(r)) { CachePolicy = CachePolicyOf(r) };
}
