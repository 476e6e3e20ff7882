namespace Vib3.Kernels;

/// <summary>The k largest scores, descending; equal scores are ordered by lower index first. NaN sorts last.</summary>
public static class TopK
{
    public static void Select(ReadOnlySpan<float> scores, int k, Span<int> indices, Span<float> values)
    {
        if (k < 0 || k > scores.Length) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [0, {scores.Length}]");
        if (indices.Length < k || values.Length < k) throw new ArgumentException("top_k: output spans shorter than k");
        if (k == 0) return;
        // Insertion into a sorted prefix: k is small (experts per token), n a few hundred at most.
        var count = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var v = scores[i];
            if (count == k && !Better(v, i, values[k - 1], indices[k - 1])) continue;
            var j = count < k ? count++ : k - 1;
            while (j > 0 && Better(v, i, values[j - 1], indices[j - 1]))
            {
                values[j] = values[j - 1];
                indices[j] = indices[j - 1];
                j--;
            }
            values[j] = v;
            indices[j] = i;
        }
    }

    /// <summary>Does (v, i) come before (u, j)? Larger value first, then lower index; NaN after every number.</summary>
    private static bool Better(float v, int i, float u, int j)
    {
        if (float.IsNaN(v)) return float.IsNaN(u) && i < j;
        if (float.IsNaN(u)) return true;
        return v > u || (v == u && i < j);
    }
}
