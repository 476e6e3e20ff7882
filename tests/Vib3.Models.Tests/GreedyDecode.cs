using Vib3.Kernels;
using Vib3.Models.Inference;

namespace Vib3.Models.Tests;

/// <summary>The greedy continuation the differential tests compare with llama.cpp's: the prompt through the prefill,
/// then the argmax token fed back, up to <paramref name="count"/> tokens or until <paramref name="stop"/> says so (the
/// stopping token not included). Shared by the test projects (linked, like TempDir).</summary>
internal static class GreedyDecode
{
    public static async Task<List<int>> GreedyAsync(this SequencePass pass, IReadOnlyList<int> prompt, int count,
        Func<int, bool>? stop = null)
    {
        var logits = (await pass.LogitsAsync(prompt, allPositions: false))[0];
        var tokens = new List<int>();
        for (var i = 0; i < count; i++)
        {
            var next = VectorOps.ArgMax(logits);
            if (stop?.Invoke(next) == true) break;
            tokens.Add(next);
            logits = await pass.Forward.DecodeAsync(next, pass.Cache);
        }
        return tokens;
    }
}
