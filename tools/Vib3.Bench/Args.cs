namespace Vib3.Bench;

/// <summary>--name value pairs; enough for a benchmark's few knobs.</summary>
internal static class Args
{
    public static string Str(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    public static int Int(string[] args, string name, int fallback) => int.Parse(Str(args, name, fallback.ToString()));
}
