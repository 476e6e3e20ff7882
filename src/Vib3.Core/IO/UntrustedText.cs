using System.Globalization;
using System.Text;

namespace Vib3.Core.IO;

/// <summary>Text from a model file shown inside an error message (a tensor name, a metadata key, a config value): kept
/// to one short line, so that a name holding newlines or a megabyte of text cannot forge lines of output or bury the
/// message.</summary>
public static class UntrustedText
{
    /// <summary>Characters shown before the text is cut with "…".</summary>
    public const int MaxShownChars = 80;

    public static string Shown(string? text, int maxChars = MaxShownChars)
    {
        if (text is null) return "";
        var clipped = text.Length > maxChars;
        var s = clipped ? text[..maxChars] : text;
        if (!s.Any(char.IsControl)) return clipped ? s + "…" : s;
        var b = new StringBuilder(s.Length + 16);
        foreach (var c in s)
            b.Append(char.IsControl(c) ? "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture) : c);
        return clipped ? b.Append('…').ToString() : b.ToString();
    }
}
