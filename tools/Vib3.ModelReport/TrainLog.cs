using System.Text.Json;

namespace Vib3.ModelReport;

/// <summary>What the report compares against, from the training run's train_log.json (written by
/// tools/train/train_moe.py with transformers): its held-out figures and its sample generations.</summary>
internal sealed record TrainLog(double Loss, double Perplexity, long Tokens, int MaxNewTokens, IReadOnlyList<TrainLogSample> Samples)
{
    public static TrainLog Read(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var heldout = root.GetProperty("heldout");
        var samples = root.GetProperty("samples").EnumerateArray().Select(s => new TrainLogSample(
            s.GetProperty("prompt").GetString()!, s.GetProperty("temperature").GetSingle(),
            s.GetProperty("seed").GetUInt64(), s.GetProperty("text").GetString()!)).ToArray();
        return new TrainLog(heldout.GetProperty("loss").GetDouble(), heldout.GetProperty("perplexity").GetDouble(),
            heldout.GetProperty("tokens").GetInt64(), root.GetProperty("args").GetProperty("max_new_tokens").GetInt32(), samples);
    }
}

/// <summary>One generation of the training run: the prompt, how it sampled, and transformers' text (prompt included).</summary>
internal sealed record TrainLogSample(string Prompt, float Temperature, ulong Seed, string Text);
