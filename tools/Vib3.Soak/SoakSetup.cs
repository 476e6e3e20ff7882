namespace Vib3.Soak;

/// <summary>What every soak command does around its cases: finds the built CLI (--cli PATH/vib3.dll, else beside this
/// tool), installs the default model as <see cref="ModelName"/> into a temp data directory, and cleans up whatever
/// happened (every child killed, the temp folder removed).</summary>
internal static class SoakSetup
{
    public const string ModelName = "moe";

    /// <summary>The value after <paramref name="name"/> in <paramref name="args"/>, or "".</summary>
    public static string Value(string[] args, string name) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : "";

    /// <summary>Runs <paramref name="run"/> with the CLI over a data directory holding the default model, and a scratch
    /// folder; 2 when there is nothing to judge (no CLI, the model would not install, a server would not start).</summary>
    public static int Run(string[] args, Func<VibCli, string, Task<int>> run)
    {
        var root = Directory.CreateTempSubdirectory("vib3-soak-").FullName;
        // a soak stopped early must not leave servers behind
        Console.CancelKeyPress += (_, _) => ChildProcess.KillAll();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
        try
        {
            return InstallThenRunAsync(VibCli.Find(Value(args, "--cli")), root, run).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine($"vib3-soak: {e.Message}");
            return 2;
        }
        finally
        {
            ChildProcess.KillAll();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<int> InstallThenRunAsync(string dll, string root, Func<VibCli, string, Task<int>> run)
    {
        var cli = new VibCli(dll, Path.Combine(root, "data"));
        Console.Error.WriteLine($"vib3-soak: installing {cli.DefaultModelFolder} as '{ModelName}' in {cli.DataDir}");
        var install = await cli.ConvertAsync(cli.DefaultModelFolder, ModelName, TimeSpan.FromMinutes(5));
        if (install.ExitCode != 0)
        {
            Console.Error.WriteLine($"vib3-soak: installing the default model failed: {install.FirstErrorLine}");
            return 2;
        }
        return await run(cli, Path.Combine(root, "cases"));
    }
}
