namespace Vib3.Soak;

/// <summary>What a kill leaves in a vib3 data directory, seen from outside: the staging folders of conversions in
/// progress (&lt;data&gt;/staging/&lt;name&gt;.&lt;id&gt;/ and their .lock files).</summary>
internal static class DataDir
{
    /// <summary>The staging folders of conversions of <paramref name="model"/>.</summary>
    public static IReadOnlyList<string> Staging(string dataDir, string model)
    {
        var staging = Path.Combine(dataDir, "staging");
        return Directory.Exists(staging) ? Directory.GetDirectories(staging, model + ".*") : [];
    }

    /// <summary>Bytes written so far into <paramref name="model"/>'s staging folders.</summary>
    public static long StagedBytes(string dataDir, string model) =>
        Staging(dataDir, model).Sum(d =>
        {
            try { return Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length); }
            catch (IOException) { return 0L; } // renamed or removed while counted
        });

    /// <summary>Polls until <paramref name="model"/>'s staging folders hold <paramref name="bytes"/>, or
    /// <paramref name="giveUp"/> says to stop (the writer exited), or the deadline; returns the bytes staged.</summary>
    public static async Task<long> WaitForStagedAsync(string dataDir, string model, long bytes, Func<bool> giveUp, TimeSpan deadline, CancellationToken ct)
    {
        var end = DateTime.UtcNow + deadline;
        while (true)
        {
            var staged = StagedBytes(dataDir, model);
            if (staged >= bytes || giveUp() || DateTime.UtcNow > end) return staged;
            await Task.Delay(20, ct);
        }
    }
}
