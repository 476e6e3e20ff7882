using System.Globalization;
using Vib3.Convert.Formats;

namespace Vib3.Bench;

/// <summary>What a GGUF file holds, as a benchmark table states it: its size, the bits per weight over all its
/// tensors (tensor bytes × 8 ÷ elements, the figure llama.cpp prints as "BPW"; the header is not counted) and the
/// share of the tensor bytes each type takes, so a mix such as Q2_K or Q4_K_M says what it is made of.</summary>
internal sealed record GgufSize(long FileBytes, double BitsPerWeight, IReadOnlyList<(string Type, double Share)> Types)
{
    public static GgufSize Of(string gguf)
    {
        using var file = GgufCheckpoint.Open(gguf);
        var tensors = file.Tensors.Values.ToList();
        var bytes = tensors.Sum(t => t.ByteLength);
        var types = tensors.GroupBy(t => t.TypeName)
            .Select(g => (g.Key, (double)g.Sum(t => t.ByteLength) / bytes))
            .OrderByDescending(x => x.Item2).ToList();
        return new GgufSize(new FileInfo(gguf).Length, bytes * 8.0 / tensors.Sum(t => t.ElementCount), types);
    }

    public double Gigabytes => FileBytes / 1e9;

    /// <summary>"q4_k 71%, q6_k 24%, f32 5%" (types under 0.5 % of the bytes left out).</summary>
    public string Mix => string.Join(", ", Types.Where(t => t.Share >= 0.005)
        .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Type} {t.Share:0%}")));
}
