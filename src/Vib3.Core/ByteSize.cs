using System.Globalization;

namespace Vib3.Core;

/// <summary>Parses and prints byte counts the way budgets are written on the command line: 2GiB, 512MiB, 1.5GB, 4096.</summary>
public static class ByteSize
{
    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("KIB", 1L << 10), ("MIB", 1L << 20), ("GIB", 1L << 30), ("TIB", 1L << 40),
        ("KB", 1000L), ("MB", 1000_000L), ("GB", 1000_000_000L), ("TB", 1000_000_000_000L),
        ("K", 1L << 10), ("M", 1L << 20), ("G", 1L << 30), ("T", 1L << 40), ("B", 1L),
    ];

    public static long Parse(string text)
    {
        var s = text.Trim().ToUpperInvariant();
        foreach (var (suffix, factor) in Units)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal) &&
                double.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) &&
                v >= 0)
                return checked((long)(v * factor));
        }
        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var plain))
            return plain;
        throw new Vib3Exception(SqlState.InvalidParameterValue,
            $"cannot read '{text}' as a byte size (examples: 4096, 512MiB, 2GiB, 1.5GB)");
    }

    public static string Format(long bytes)
    {
        string[] names = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        var i = 0;
        while (v >= 1024 && i < names.Length - 1) { v /= 1024; i++; }
        return i == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "0" : v >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture) + " " + names[i];
    }
}
