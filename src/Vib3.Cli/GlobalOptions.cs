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

    public static ModelCatalog Catalog(ParseResult r) => new(ModelCatalog.ResolveDataDir(r.GetValue(DataDir)));

    public static long RamBudgetBytes(ParseResult r) => ByteSize.Parse(r.GetValue(RamBudget)!);
}
