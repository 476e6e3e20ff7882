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

    /// <summary>The CLI given with --cli, else the one built beside this tool.</summary>
    public static string Find(string given) => BuildLayout.Find(given, "--cli", Path.Combine("src", "Vib3.Cli"), "vib3.dll");
}
