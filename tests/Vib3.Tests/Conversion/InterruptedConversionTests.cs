using System.Diagnostics;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Cli;

namespace Vib3.Tests.Conversion;

/// <summary>kill -9 in the middle of a conversion leaves nothing visible in the catalog, and a rerun succeeds
/// (and clears the abandoned staging folder).</summary>
public sealed class InterruptedConversionTests
{
    [Fact]
    public async Task Kill_during_conversion_leaves_nothing_half_visible()
    {
        using var dir = new TempDir();
        var data = dir.Sub("data");
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32) with
        {
            Layers = 4, Dim = 512, ExpertHidden = 1024, Experts = 8,
        };
        var source = SyntheticCheckpoints.Write(dir, spec, "hf");

        var vib3 = typeof(Vib3.Cli.Vib3Cli).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", [vib3, "convert", source, "--name", "m", "--data-dir", data])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var staging = Path.Combine(data, "staging");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        // Waiting on the process itself (not the thread pool) so a busy pool cannot make us miss the window.
        while (!process.WaitForExit(2) && StagedBytes(staging) == 0 && DateTime.UtcNow < deadline) { }
        Assert.False(process.HasExited, "conversion finished before it could be interrupted; make the model bigger");
        process.Kill();
        await process.WaitForExitAsync();

        var catalog = new ModelCatalog(data);
        Assert.Empty(catalog.List());
        Assert.False(catalog.Exists("m"));
        Assert.NotEmpty(Directory.GetDirectories(staging));

        var rerun = CliRun.Run(data, "convert", source, "--name", "m");
        Assert.True(rerun.ExitCode == 0, rerun.Error);
        Assert.Empty(Directory.GetDirectories(staging));
        await RoundTripTests.AssertMatchesSource(catalog, "m", source, exact: true, budget: 96 << 20);
    }

    private static long StagedBytes(string staging) =>
        Directory.Exists(staging)
            ? Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories).Sum(f => { try { return new FileInfo(f).Length; } catch (IOException) { return 0; } })
            : 0;
}
