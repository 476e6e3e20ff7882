namespace Vib3.Soak;

/// <summary>A Hugging Face checkpoint large enough that converting it takes seconds (so a conversion can be killed
/// midway), written once by vib3-synth: Mixtral layout, 8 layers of 8 experts, f32, about 410 MB; it converts in
/// about 6 s on 2 busy cores. Its weights are random but fixed (seeded), so its conversions are identical.</summary>
internal sealed record SynthCheckpoint(string Folder, long Bytes)
{
    private static readonly string[] Shape =
        ["--family", "mixtral", "--format", "hf", "--layers", "8", "--dim", "512", "--expert-hidden", "1024", "--experts", "8", "--heads", "8", "--kv-heads", "4"];

    public static async Task<SynthCheckpoint> WriteAsync(string synthDll, string folder, TimeSpan deadline)
    {
        var r = await ChildProcess.RunAsync("dotnet", [synthDll, .. Shape, "--out", folder], deadline);
        if (r.ExitCode != 0) throw new InvalidOperationException($"vib3-synth failed ({(r.TimedOut ? "timed out" : $"exit {r.ExitCode}")}): {r.FirstErrorLine}");
        return new SynthCheckpoint(folder, Directory.GetFiles(folder).Sum(f => new FileInfo(f).Length));
    }
}
