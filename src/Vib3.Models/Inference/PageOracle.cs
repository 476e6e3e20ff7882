using Vib3.Storage.Catalog;

namespace Vib3.Models.Inference;

/// <summary>A measurement of the most that paging inside the router's experts could save (docs/retrieval.md's
/// ceiling), not a routing that saves anything: the router picks the experts exactly, every page of theirs is computed,
/// and for each row only the pages with the largest true contribution ‖g_e · W_down[:, rows] · (silu(W_gate[rows] · x) ⊙
/// (W_up[rows] · x))‖ are added in, the share <see cref="Keep"/> of the row's pages (rounded up; a layer's pages are
/// one size, so the same share of its bytes). Its figures (EXPLAIN ANALYZE's per-row page bytes, the perplexity tool's
/// expert bytes per token) count the kept pages only: what a retrieval that knew the contributions would read.
/// <paramref name="Random"/> makes it the control: the same share of each row's pages kept at random (a fixed
/// pseudo-random order per layer, page, position and token), which any page scoring must beat.
/// <paramref name="PinHot"/>: a co-activation layout's hot pages (<see cref="ExpertGridEntry.HotBundles"/>) are always
/// kept, as a retrieval would read them, and count in the share (beyond it where they alone exceed it); the rest of the
/// share is filled by contribution (or at random).</summary>
public sealed record PageOracle(double Keep, bool Random = false, bool PinHot = false)
{
    public double Keep { get; } = Keep is > 0 and <= 1
        ? Keep
        : throw new ArgumentOutOfRangeException(nameof(Keep), Keep, "the oracle keeps a share of the pages in (0, 1]");
}

/// <summary>The random control's order: a fixed pseudo-random number per (layer, page, position, token) (SplitMix64 of
/// the four), the same in every run and process.</summary>
internal static class PageOracleOrder
{
    public static double Of(int layer, int page, int position, int token)
    {
        var z = ((ulong)(uint)layer << 48) ^ ((ulong)(uint)page << 24) ^ ((ulong)(uint)position << 8) ^ (ulong)(uint)token * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (z ^ (z >> 31)) / (double)ulong.MaxValue;
    }
}
