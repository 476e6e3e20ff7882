using System.Text.RegularExpressions;

namespace Vib3.Core;

/// <summary>How a model's name is written in a statement vib3 suggests, so that pasting the hint works: as it is where
/// the language reads it unquoted (letters, digits, '_', '.' and '-' with no "--", which starts a comment), else in
/// double quotes.</summary>
public static partial class ModelNames
{
    public static string ForStatement(string name) =>
        Plain().IsMatch(name) && !name.Contains("--", StringComparison.Ordinal) ? name : "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
    private static partial Regex Plain();
}
