using Vib3.Core;
using Vib3.Models.Weights;

namespace Vib3.Models.Retrieval;

/// <summary>‖W_down[:, i]‖ of every neuron of every routed expert: how much a unit of its activation adds to the
/// expert's output, what a neuron's true contribution |h_i| · ‖W_down[:, i]‖ is measured with.</summary>
public static class ExpertDownNorms
{
    /// <summary>[MoE layer][expert] → [expert_hidden] norms, read page by page through <paramref name="w"/>'s store.</summary>
    public static async Task<Dictionary<int, float[][]>> ReadAsync(ModelWeights w, CancellationToken ct = default)
    {
        var norms = new Dictionary<int, float[][]>();
        foreach (var grid in w.ExpertGrids.Values)
        {
            var perExpert = Enumerable.Range(0, grid.Experts).Select(_ => new float[grid.ExpertHidden]).ToArray();
            var down = new float[grid.Dim * grid.BundleRows]; // [dim, r]
            await w.StreamPagesAsync(grid.FirstPage, grid.Experts * grid.BundlesPerExpert, (i, page) =>
            {
                var (e, b) = (i / grid.BundlesPerExpert, i % grid.BundlesPerExpert);
                var r = grid.RowsInBundle(b);
                var bytes = w.StoredBytes(grid.FirstPage + i, page);
                var rowsBytes = (int)grid.GateUpType().ByteCount((long)r * grid.Dim);
                DTypeConvert.ToF32(grid.DownType(), bytes[(2 * rowsBytes)..], down.AsSpan(0, grid.Dim * r));
                for (var c = 0; c < r; c++)
                {
                    double sum = 0;
                    for (var d = 0; d < grid.Dim; d++) sum += (double)down[d * r + c] * down[d * r + c];
                    perExpert[e][b * grid.BundleRows + c] = (float)Math.Sqrt(sum);
                }
            }, ct).ConfigureAwait(false);
            norms[grid.Layer] = perExpert;
        }
        return norms;
    }
}
