using System.Globalization;
using Vib3.LlamaCpp;

namespace Vib3.Bench;

/// <summary>vib3-bench tiers-llama GGUF PROMPT GEN THREADS REPACK (hidden; started by vib3-bench tiers inside a memory
/// cgroup): llama.cpp with the GGUF memory-mapped, so its weights are page cache the limit can evict (those its CPU
/// backend repacks excepted, unless REPACK is false), one Bench(prompt, gen), and the tok/s as one JSON line.</summary>
internal static class TiersLlamaWorker
{
    public const string Mode = "tiers-llama";

    public static int Run(string[] args)
    {
        var (gguf, prompt, gen, threads, repack) = (args[0], int.Parse(args[1], CultureInfo.InvariantCulture),
            int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture), bool.Parse(args[4]));
        using var llama = LlamaCppModel.Load(gguf, threads, contextLength: prompt + gen + 8, memoryMap: true, repack: repack);
        var (prefill, decode) = llama.Bench(prompt, gen);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{{\"prefill_tokens_per_second\": {prefill:0.###}, \"decode_tokens_per_second\": {decode:0.###}}}"));
        return 0;
    }
}
