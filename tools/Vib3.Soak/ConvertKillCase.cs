namespace Vib3.Soak;

/// <summary>kill -9 during conversion: `vib3 convert` of the large synthetic checkpoint is killed once a quarter of it
/// is staged. Judged: `vib3 models` still lists the earlier model, without the half-converted one and without an
/// error; rerunning the same conversion succeeds (clearing the abandoned staging folder) and the model generates.</summary>
internal static class ConvertKillCase
{
    /// <summary>The model the case converts; the serving case opens it too.</summary>
    public const string Model = "bigmoe";

    private static readonly TimeSpan ConvertDeadline = TimeSpan.FromSeconds(120);

    public static ReliabilityCase Case { get; } = new("kill9-convert",
        "vib3 convert of a ~410 MB checkpoint, SIGKILL when a quarter is staged; vib3 models; convert again; GENERATE from it",
        TimeSpan.FromSeconds(240), RunAsync);

    private static async Task<Verdict> RunAsync(ReliabilityContext ctx)
    {
        var cli = ctx.Cli;
        var problems = new List<string>();
        var convert = ChildProcess.Start("dotnet", cli.Args("convert", ctx.Big.Folder, "--name", Model));
        var output = Task.WhenAll(ChildProcess.Tail(convert.StandardOutput), ChildProcess.Tail(convert.StandardError));
        var staged = await DataDir.WaitForStagedAsync(cli.DataDir, Model, ctx.Big.Bytes / 4, () => convert.HasExited, ConvertDeadline, ctx.Cancel);
        if (convert.HasExited)
            return new Verdict(false, "", $"the conversion ended (exit {convert.ExitCode}) before it could be killed, {ProcessMemory.Mb(staged)} MB staged: {Text.Clip(string.Join(" ", await output), 120)}");
        Posix.Signal(convert.Id, Posix.SigKill);
        await convert.WaitForExitAsync(ctx.Cancel);
        await output;
        var leftBehind = DataDir.Staging(cli.DataDir, Model).Count;

        var models = await cli.RunAsync(TimeSpan.FromSeconds(60), "models");
        if (models.ExitCode != 0) problems.Add($"vib3 models after the kill: exit {models.ExitCode?.ToString() ?? "none (killed)"}: {models.FirstErrorLine}");
        else
        {
            var listed = Listed(models.Stdout);
            if (!listed.Contains(SoakSetup.ModelName)) problems.Add($"vib3 models no longer lists '{SoakSetup.ModelName}'");
            if (listed.Contains(Model)) problems.Add($"vib3 models lists the half-converted '{Model}'");
            if (models.Stdout.Contains("unreadable", StringComparison.Ordinal)) problems.Add("vib3 models shows an unreadable model");
        }

        var again = await cli.ConvertAsync(ctx.Big.Folder, Model, ConvertDeadline);
        if (again.ExitCode != 0) problems.Add($"converting again: exit {again.ExitCode?.ToString() ?? "none (killed)"}: {again.FirstErrorLine}");
        var stillThere = DataDir.Staging(cli.DataDir, Model).Count;
        if (stillThere > 0) problems.Add($"{stillThere} staging folder(s) of '{Model}' still there after converting again");
        var generated = await cli.RunAsync(TimeSpan.FromSeconds(60), "query", $"GENERATE 'hello' FROM MODEL {Model} MAX_TOKENS 4 TEMPERATURE 0", "--format", "csv");
        if (generated.ExitCode != 0) problems.Add($"GENERATE from the reconverted model: exit {generated.ExitCode?.ToString() ?? "none"}: {generated.FirstErrorLine}");

        var figures = $"killed at {ProcessMemory.Mb(staged)} of {ProcessMemory.Mb(ctx.Big.Bytes)} MB staged; {leftBehind} staging folder left by the kill, " +
                      $"removed by the rerun; rerun converted in {again.Elapsed.TotalSeconds:0.0} s; GENERATE from it {(generated.ExitCode == 0 ? "ok" : "failed")}";
        return Verdict.Of(figures, problems, $"catalog intact (vib3 models: '{SoakSetup.ModelName}' only, exit 0)");
    }

    /// <summary>The names in `vib3 models`' table (its first column).</summary>
    private static HashSet<string> Listed(string table) =>
        table.Split('\n').Select(l => l.Split('│')).Where(cells => cells.Length > 2).Select(cells => cells[1].Trim())
            .Where(name => name.Length > 0 && name != "name").ToHashSet();
}
