using Vib3.Storage.Catalog;

namespace Vib3.Models.Retrieval;

/// <summary>A neuron layout for the routed experts, for a conversion to write: per MoE layer and expert the order its
/// neurons are stored in (bundle page b of <see cref="PageRows"/> rows holds neurons Neurons[layer][expert][b·R ..
/// (b+1)·R) as trained, gate and up rows and down columns alike), and how many of its first bundles are hot.</summary>
/// <param name="Neurons">[MoE layer] → [expert] → a permutation of 0..expert_hidden-1.</param>
/// <param name="HotBundles">[MoE layer] → [expert] → hot bundles, the first ones of the expert.</param>
public sealed record NeuronOrder(int PageRows, IReadOnlyDictionary<int, int[][]> Neurons, IReadOnlyDictionary<int, int[]> HotBundles, NeuronLayoutInfo Layout)
{
    /// <summary>Why this order cannot lay out <paramref name="layers"/> (the MoE layers) of <paramref name="experts"/>
    /// experts of <paramref name="hidden"/> neurons in pages of <paramref name="pageRows"/>, or null when it can.</summary>
    public string? Mismatch(IReadOnlyList<int> layers, int experts, int hidden, int pageRows)
    {
        if (pageRows != PageRows) return $"it was made for pages of {PageRows} neurons, not {pageRows}";
        var bundles = (hidden + pageRows - 1) / pageRows;
        foreach (var l in layers)
        {
            if (!Neurons.TryGetValue(l, out var perExpert) || perExpert.Length != experts || !HotBundles.TryGetValue(l, out var hot) || hot.Length != experts)
                return $"it has no order for the {experts} experts of layer {l}";
            for (var e = 0; e < experts; e++)
            {
                if (hot[e] < 0 || hot[e] > bundles) return $"layer {l} expert {e}: {hot[e]} hot bundles of {bundles}";
                var seen = new bool[hidden];
                if (perExpert[e].Length != hidden || perExpert[e].Any(i => i < 0 || i >= hidden || seen[i] || !(seen[i] = true)))
                    return $"layer {l} expert {e}: not an order of its {hidden} neurons";
            }
        }
        return null;
    }
}
