using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Vib3.LlamaCpp;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>llama.cpp's portable build (no AVX: ggml's "_generic" kernels, which sum each row dot's integers before
/// one f32 multiply, as vib3 does) in a child process, `Vib3.LlamaCpp logits --portable`: this process already holds
/// the build LLamaSharp picked for the CPU, and one process can load only one.</summary>
internal static class PortableLlamaCpp
{
    /// <summary>Loading LLamaSharp and a small model takes a second or two; a child past this is stuck.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Logits at every position of <paramref name="tokens"/>, as <see cref="LlamaCppModel.Logits"/>.</summary>
    public static float[][] Logits(string gguf, int[] tokens, int vocab)
    {
        var output = Path.ChangeExtension(gguf, ".portable-logits");
        var start = new ProcessStartInfo("dotnet",
            [typeof(LlamaCppModel).Assembly.Location, "logits", gguf, output, "--portable", .. tokens.Select(t => t.ToString(CultureInfo.InvariantCulture))])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var child = Process.Start(start)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        if (!child.WaitForExit(Timeout))
        {
            child.Kill(entireProcessTree: true);
            throw new TimeoutException($"the portable llama.cpp child ran past {Timeout.TotalSeconds} s on {gguf}");
        }
        if (child.ExitCode != 0)
            throw new InvalidOperationException($"the portable llama.cpp child exited {child.ExitCode}: {stderr.Result}{stdout.Result}");
        var bytes = File.ReadAllBytes(output);
        if (bytes.Length != tokens.Length * vocab * sizeof(float))
            throw new InvalidOperationException($"the portable llama.cpp child wrote {bytes.Length} bytes, not {tokens.Length} rows of {vocab} f32");
        var rows = new float[tokens.Length][];
        for (var p = 0; p < rows.Length; p++) rows[p] = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(p * vocab * sizeof(float), vocab * sizeof(float))).ToArray();
        return rows;
    }
}
