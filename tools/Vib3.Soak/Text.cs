namespace Vib3.Soak;

internal static class Text
{
    /// <summary>One line short enough for a table cell.</summary>
    public static string Clip(string s, int max = 140)
    {
        var line = s.ReplaceLineEndings(" ").Replace("|", "\\|");
        return line.Length > max ? line[..max] + "…" : line;
    }
}
