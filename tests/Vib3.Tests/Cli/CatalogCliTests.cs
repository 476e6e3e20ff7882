using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using Vib3.Tests.Conversion;

namespace Vib3.Tests.Cli;

/// <summary>The catalog as users meet it: broken stores, bad options, concurrent conversions' staging folders.</summary>
public sealed class CatalogCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Data => _dir.Sub("data");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_store_with_an_unreadable_manifest_is_listed_and_can_be_dropped()
    {
        var store = Path.Combine(Data, "models", "broken");
        Directory.CreateDirectory(store);
        File.WriteAllText(Path.Combine(store, ManifestFile.FileName), "{ not json");
        Assert.Contains("unreadable", CliRun.Run(Data, "models").Output);
        var drop = CliRun.Run(Data, "drop", "broken");
        Assert.True(drop.ExitCode == 0, drop.Error);
        Assert.False(Directory.Exists(store));
    }

    [Fact]
    public void A_data_dir_that_is_a_file_is_a_clear_error()
    {
        var file = _dir.Sub("afile");
        File.WriteAllText(file, "x");
        var r = CliRun.Run(file, "models");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains("is a file, not a directory", r.Error);
    }

    [Theory]
    [InlineData("models")]
    [InlineData("info", "x")]
    public void A_bad_ram_budget_is_reported_by_every_command(params string[] args)
    {
        var r = CliRun.Run(Data, [.. args, "--ram-budget", "lots"]);
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains("'lots'", r.Error);
    }

    [Fact]
    public void Convert_with_index_builds_the_page_index_as_create_index_does()
    {
        var source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var r = CliRun.Run(Data, "convert", source, "--name", "m", "--page-rows", "32", "--index", "mean_gate");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"CREATE INDEX ON MODEL m: layer 0 \(1 of 2\), \d+ page keys and a graph in \d+\.\d\d s", r.Output);
        Assert.Contains("layer 1 (2 of 2)", r.Output);
        // off a terminal progress is lines, and each phase's last one is its 100 %
        var progress = r.Output.Split('\n').Where(l => l.StartsWith("writing pages: ", StringComparison.Ordinal) || l.StartsWith("verifying: ", StringComparison.Ordinal)).ToList();
        Assert.Equal("writing pages: 100%", progress.Last(l => l.StartsWith("writing", StringComparison.Ordinal)).TrimEnd());
        Assert.Equal("verifying: 100%", progress[^1].TrimEnd());
        Assert.True(File.Exists(Path.Combine(Data, "models", "m", "index", "layer-000.keys")));
        Assert.True(File.Exists(Path.Combine(Data, "models", "m", "index", "layer-000.hnsw")));
    }

    [Fact]
    public void Convert_with_a_co_activation_layout_calibrates_and_records_it_and_its_options_are_checked()
    {
        var source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var text = Path.Combine(_dir.Path, "calibration.txt");
        File.WriteAllText(text, string.Join(' ', Enumerable.Range(0, 300).Select(i => $"word{i * 31 % 97} and so on")));
        var r = CliRun.Run(Data, "convert", source, "--name", "m", "--page-rows", "8", "--page-layout", "coact", "--calibration", text,
            "--calibration-tokens", "300");
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Matches(@"calibration: \d+ tokens of calibration.txt in \d+ windows of \d+ \(perplexity [\d.]+ as trained\)", r.Output);
        Assert.Matches(@"neurons laid out by co-activation on \d+ tokens: \d+ hot pages of 80", r.Output);
        Assert.Equal("coact", new ModelCatalog(Data).Get("m").NeuronLayout!.Kind);

        foreach (var (args, message) in new[]
        {
            (new[] { "--page-layout", "coact" }, "--page-layout coact needs --calibration TEXT"),
            (["--calibration", text], "--calibration is for --page-layout coact"),
            (["--page-layout", "shuffled"], "'shuffled'"),
            (["--page-layout", "coact", "--calibration", text, "--calibration-tokens", "1"], "--calibration-tokens must be at least 2"),
        })
        {
            var bad = CliRun.Run(Data, ["convert", source, "--name", "n", .. args]);
            Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, bad.ExitCode);
            Assert.Contains(message, bad.Error);
        }
        Assert.False(new ModelCatalog(Data).Exists("n"));
    }

    [Fact]
    public void A_ram_budget_too_small_to_verify_refuses_the_conversion()
    {
        var source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        var r = CliRun.Run(Data, "convert", source, "--name", "m", "--ram-budget", "64KiB");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains($"SQLSTATE {SqlState.InsufficientResources}", r.Error);
    }

    [Fact]
    public void Malformed_arguments_are_one_line()
    {
        var r = CliRun.Run(Data, "convert", "x", "--name", "m", "--page-rows", "abc");
        Assert.Equal(Vib3.Cli.Vib3Cli.ExitError, r.ExitCode);
        Assert.Contains("--page-rows: 'abc' is not a whole number", r.Error);
        Assert.DoesNotContain('\n', r.Error.Trim());
        Assert.Contains("required", CliRun.Run(Data, "convert", "x").Error);
    }

    [Fact]
    public void Live_staging_survives_cleanup_and_abandoned_staging_does_not()
    {
        var catalog = new ModelCatalog(Data);
        using var live = catalog.BeginStaging("a");
        File.WriteAllText(Path.Combine(live.Dir, "page"), "x");

        var staging = Path.GetDirectoryName(live.Dir)!;
        var dead = Path.Combine(staging, "b.dead");
        Directory.CreateDirectory(dead);
        File.WriteAllText(dead + StagingArea.LockSuffix, ""); // its owner died: nobody holds the lock
        var orphan = Path.Combine(staging, "c.orphan");
        Directory.CreateDirectory(orphan);
        var staleLock = Path.Combine(staging, "e.gone" + StagingArea.LockSuffix);
        File.WriteAllText(staleLock, "");
        File.SetLastWriteTimeUtc(staleLock, DateTime.UtcNow.AddHours(-1));
        var youngLock = Path.Combine(staging, "f.starting" + StagingArea.LockSuffix);
        File.WriteAllText(youngLock, ""); // an owner that has locked and is about to create its folder

        using (catalog.BeginStaging("d")) { }

        Assert.True(File.Exists(Path.Combine(live.Dir, "page")), "a running conversion's staging folder was deleted");
        Assert.False(Directory.Exists(dead));
        Assert.False(File.Exists(dead + StagingArea.LockSuffix));
        Assert.False(Directory.Exists(orphan));
        Assert.False(File.Exists(staleLock));
        Assert.True(File.Exists(youngLock));
    }

    [Fact]
    public void Drop_leaves_no_staging_behind()
    {
        var source = SyntheticCheckpoints.Write(_dir, SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32), "hf");
        Assert.Equal(0, CliRun.Run(Data, "convert", source, "--name", "m").ExitCode);
        Assert.Equal(0, CliRun.Run(Data, "drop", "m").ExitCode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Data, "staging")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(Data, "models")));
    }
}
