using System.CommandLine;
using Vib3.Core;
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
        Description = "Host RAM the page store may hold (e.g. 512MiB, 2GiB); pages beyond it are read from disk on demand",
        DefaultValueFactory = _ => "2GiB",
        Recursive = true,
    };

    /// <summary>The catalog of --data-dir. Every command checks both global options up front, so a mistyped
    /// budget is reported whatever the command.</summary>
    public static ModelCatalog Catalog(ParseResult r)
    {
        RamBudgetBytes(r);
        var dir = ModelCatalog.ResolveDataDir(r.GetValue(DataDir));
        if (File.Exists(dir))
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"data directory {dir} is a file, not a directory");
        return new ModelCatalog(dir);
    }

    public static long RamBudgetBytes(ParseResult r) => ByteSize.Parse(r.GetValue(RamBudget)!);
}
