namespace Vib3.Soak;

internal static class Text
{
    /// <summary>One line short enough for a table cell.</summary>
    public static string Clip(string s, int max = 140)
    {
        var line = s.ReplaceLineEndings(" ").Replace("|", "\\|");
        return line.Length > max ? line[..max] + "…" : line;
    }

    /// <summary>The line where the runtime says why the process died, else the last line it printed.</summary>
    public static string FatalLine(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] fatal = ["Stack overflow", "Unhandled exception", "Out of memory", "Process terminated", "Fatal error"];
        return Clip(lines.FirstOrDefault(l => fatal.Any(f => l.Contains(f, StringComparison.OrdinalIgnoreCase))) ?? lines.LastOrDefault() ?? "no output", 100);
    }
}
