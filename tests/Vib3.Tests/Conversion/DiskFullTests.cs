using System.Diagnostics;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Cli;

namespace Vib3.Tests.Conversion;

/// <summary>A conversion into a full disk (a 2 MiB tmpfs as the data directory) fails with one clear line, promptly,
/// and leaves the catalog unchanged.</summary>
public sealed class DiskFullTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _mount;

    public DiskFullTests()
    {
        _mount = _dir.Sub("tiny");
        Directory.CreateDirectory(_mount);
        using var p = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", _mount])
        { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "this test mounts a 2 MiB tmpfs and needs root: " + p.StandardError.ReadToEnd());
    }

    public void Dispose()
    {
        using (var p = Process.Start("umount", [_mount])) p.WaitForExit();
        _dir.Dispose();
    }

    [Fact]
    public void Disk_full_is_one_clear_error_and_leaves_nothing()
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32) with { Dim = 128, ExpertHidden = 256, Experts = 8 };
        var source = SyntheticCheckpoints.Write(_dir, spec, "hf");
        var clock = Stopwatch.StartNew();
        var r = CliRun.Run(_mount, "convert", source, "--name", "m");

        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.DiskFull}", r.Error);
        Assert.Contains("disk full", r.Error);
        Assert.DoesNotContain('\n', r.Error.Trim());
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "disk full must not hang");
        Assert.Empty(new ModelCatalog(_mount).List());
        var staging = Path.Combine(_mount, "staging");
        Assert.True(!Directory.Exists(staging) || Directory.GetDirectories(staging).Length == 0, "staging left behind");
    }
}
