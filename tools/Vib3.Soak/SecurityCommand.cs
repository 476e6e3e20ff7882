namespace Vib3.Soak;

/// <summary>vib3-soak security [--cli PATH/vib3.dll] [--keep-going] [--cases NAME,NAME]: installs the default model
/// into a temp data directory, runs the battery against live servers, prints the table, and cleans up (servers
/// killed, temp folder removed) whatever happened.</summary>
internal static class SecurityCommand
{
    public const string ModelName = "moe";

    public static int Run(string[] args)
    {
        string Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : "";
        var keepGoing = args.Contains("--keep-going");
        var names = Value("--cases").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var unknown = names.Except(SecurityCases.All.Select(c => c.Name)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"vib3-soak: unknown case(s) {string.Join(", ", unknown)}; cases: {string.Join(", ", SecurityCases.All.Select(c => c.Name))}");
            return 2;
        }
        var cases = names.Length == 0 ? SecurityCases.All : SecurityCases.All.Where(c => names.Contains(c.Name)).ToList();
        var root = Directory.CreateTempSubdirectory("vib3-soak-").FullName;
        // a soak stopped early must not leave servers behind
        Console.CancelKeyPress += (_, _) => ChildProcess.KillAll();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
        try
        {
            return RunAsync(VibCli.Find(Value("--cli")), root, cases, keepGoing).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidOperationException)
        {
            // no CLI, or a server that would not start: nothing to judge
            Console.Error.WriteLine($"vib3-soak: {e.Message}");
            return 2;
        }
        finally
        {
            ChildProcess.KillAll();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<int> RunAsync(string dll, string root, IReadOnlyList<SoakCase> cases, bool keepGoing)
    {
        var cli = new VibCli(dll, Path.Combine(root, "data"));
        Console.Error.WriteLine($"vib3-soak: installing {cli.DefaultModelFolder} as '{ModelName}' in {cli.DataDir}");
        var install = await cli.ConvertAsync(cli.DefaultModelFolder, ModelName, TimeSpan.FromMinutes(5));
        if (install.ExitCode != 0)
        {
            Console.Error.WriteLine($"vib3-soak: installing the default model failed: {install.FirstErrorLine}");
            return 2;
        }
        var results = new List<CaseResult>();
        await using (var battery = new Battery(cli, Path.Combine(root, "cases"), Convert.ToHexString(Guid.NewGuid().ToByteArray())))
        {
            foreach (var c in cases)
            {
                Console.Error.WriteLine($"vib3-soak: {c.Name} …");
                var r = await battery.RunAsync(c);
                Console.Error.WriteLine($"vib3-soak: {c.Name}: {(r.Clean ? "clean" : r.Crash ? "CRASH" : r.Hang ? "HANG" : r.Memory ? "MEMORY" : "unclean")} " +
                                        $"({r.Elapsed.TotalSeconds:0.0} s): {r.Seen.Detail}");
                results.Add(r);
                if (r.Failed && !keepGoing) break;
            }
        }
        Report.Write(Console.Out, results, cases.Count - results.Count);
        return results.Any(r => r.Failed) ? 1 : 0;
    }
}
