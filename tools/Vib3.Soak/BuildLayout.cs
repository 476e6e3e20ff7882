namespace Vib3.Soak;

/// <summary>Where another project of this repository puts its build output, in the configuration and target framework
/// this tool was built with (tools/Vib3.Soak/bin/CONFIG/TFM → PROJECT/bin/CONFIG/TFM), as vib3-bench finds the CLI.</summary>
internal static class BuildLayout
{
    /// <param name="project">The project's folder from the repository root ("src/Vib3.Cli").</param>
    public static string Beside(string project, string dll)
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        var root = here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        return Path.Combine(root, project, "bin", here.Parent!.Name, here.Name, dll);
    }

    /// <summary>The given path (an option's value) when not empty, else the file beside this tool; either must exist.</summary>
    public static string Find(string given, string option, string project, string dll)
    {
        if (given.Length > 0)
            return File.Exists(given) ? Path.GetFullPath(given) : throw new FileNotFoundException($"{option} {given}: no such file");
        var candidate = Beside(project, dll);
        return File.Exists(candidate) ? candidate : throw new FileNotFoundException(
            $"{dll} is not built at {candidate}; build {project} with the same configuration or pass {option} PATH/{dll}");
    }
}
