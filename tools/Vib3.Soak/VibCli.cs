namespace Vib3.Soak;

/// <summary>The built vib3 CLI (vib3.dll, run with `dotnet`) and the data directory every command of a soak uses.</summary>
internal sealed class VibCli(string dll, string dataDir)
{
    public string Dll { get; } = dll;
    public string DataDir { get; } = dataDir;

    /// <summary>The default model's Hugging Face folder, shipped beside the CLI (as `vib3 demo` installs it).</summary>
    public string DefaultModelFolder => Path.Combine(Path.GetDirectoryName(Dll)!, "catalog", "models", "vib3-moe");

    public IEnumerable<string> Args(params string[] args) => [Dll, .. args, "--data-dir", DataDir];

    public Task<ChildResult> RunAsync(TimeSpan deadline, params string[] args) =>
        ChildProcess.RunAsync("dotnet", Args(args), deadline);

    public Task<ChildResult> ConvertAsync(string folder, string name, TimeSpan deadline) =>
        RunAsync(deadline, "convert", folder, "--name", name);

    /// <summary>The CLI next to this tool in the same build layout, as vib3-bench finds it.</summary>
    public static string Find(string given)
    {
        if (given.Length > 0)
            return File.Exists(given) ? Path.GetFullPath(given) : throw new FileNotFoundException($"--cli {given}: no such file (the built vib3.dll)");
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')); // tools/Vib3.Soak/bin/CONFIG/TFM
        var candidate = Path.Combine(here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName, "src", "Vib3.Cli", "bin", here.Parent!.Name, here.Name, "vib3.dll");
        return File.Exists(candidate) ? candidate : throw new FileNotFoundException(
            $"vib3's CLI is not built at {candidate}; build src/Vib3.Cli with the same configuration or pass --cli PATH/vib3.dll");
    }
}
