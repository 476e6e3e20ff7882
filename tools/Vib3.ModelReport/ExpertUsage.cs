using System.Globalization;
using Vib3.Models.Inference;

namespace Vib3.ModelReport;

/// <summary>expert_usage.csv: one row per (layer, expert) with how often the router chose the expert, as a share of
/// the layer's routing decisions (tokens × top-k: a layer's fractions sum to 1, balance is 1/experts) and as a share
/// of its tokens (sums to top-k, balance is top-k/experts), and the mean routing weight it got when chosen.
/// tools/Vib3.ModelReport/plot_expert_usage.py draws the heatmap from it.</summary>
internal static class ExpertUsage
{
    public const string Header = "layer,expert,selected,fraction,token_fraction,mean_weight";

    public static void Write(string path, RoutingStats routing, int topK)
    {
        using var w = new StreamWriter(path);
        w.WriteLine(Header);
        for (var layer = 0; layer < routing.Layers; layer++)
        {
            var decisions = routing.Decisions(layer);
            for (var e = 0; e < routing.Experts; e++)
            {
                var n = routing.Selected(layer, e);
                var fraction = decisions == 0 ? 0 : (double)n / decisions;
                var tokenFraction = fraction * topK;
                var meanWeight = n == 0 ? 0 : routing.TotalWeight(layer, e) / n;
                w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{layer},{e},{n},{fraction:0.000000},{tokenFraction:0.000000},{meanWeight:0.000000}"));
            }
        }
    }

    /// <summary>Per layer, then pooled over layers (what the training's load-balancing loss, computed on all layers'
    /// router logits concatenated, pushes towards balance): the smallest and largest share, for the console.</summary>
    public static IEnumerable<string> Summary(RoutingStats routing)
    {
        var layers = Enumerable.Range(0, routing.Layers);
        var experts = Enumerable.Range(0, routing.Experts);
        foreach (var layer in layers)
            yield return Line($"layer {layer}", experts.Select(e => (double)routing.Selected(layer, e) / routing.Decisions(layer)));
        var all = (double)layers.Sum(routing.Decisions);
        yield return Line("all layers pooled", experts.Select(e => layers.Sum(l => routing.Selected(l, e)) / all));
    }

    private static string Line(string what, IEnumerable<double> shares)
    {
        var f = shares.ToArray();
        return string.Create(CultureInfo.InvariantCulture,
            $"{what}: share of routing decisions per expert min {f.Min():P1}, max {f.Max():P1} (balanced: {1.0 / f.Length:P1})");
    }
}
