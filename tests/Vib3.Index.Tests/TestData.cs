namespace Vib3.Index.Tests;

/// <summary>Seeded vector sets and the ann-benchmarks recall rule shared by the HNSW tests.</summary>
internal static class TestData
{
    /// <summary>[count, dims] i.i.d. N(0,1).</summary>
    public static float[] Gaussian(int count, int dims, int seed)
    {
        var random = new Random(seed);
        var v = new float[count * dims];
        for (var i = 0; i < v.Length; i++) v[i] = (float)random.NextGaussian();
        return v;
    }

    /// <summary>[count, dims]: a random one of <paramref name="clusters"/> N(0,1) centres plus 0.1·N(0,1).</summary>
    public static float[] Clustered(int count, int dims, int clusters, int seed)
    {
        var random = new Random(seed);
        var centres = Gaussian(clusters, dims, seed + 1000);
        var v = new float[count * dims];
        for (var r = 0; r < count; r++)
        {
            var c = random.Next(clusters);
            for (var d = 0; d < dims; d++) v[r * dims + d] = centres[c * dims + d] + 0.1f * (float)random.NextGaussian();
        }
        return v;
    }

    /// <summary>recall@k the ann-benchmarks way: a returned neighbour counts if its score is at least the k-th true
    /// score (ties with the k-th are as good as it). Exact and HNSW share the score code, so the scores compared are
    /// bit-identical.</summary>
    public static double Recall(IVectorIndex index, ExactIndex exact, float[] queries, int k, int ef)
    {
        var dims = exact.Dimensions;
        var found = new Neighbor[k];
        var truth = new Neighbor[k];
        long hits = 0, total = 0;
        for (var q = 0; q < queries.Length / dims; q++)
        {
            var query = queries.AsSpan(q * dims, dims);
            var t = exact.Search(query, k, truth);
            var n = index.Search(query, k, found, ef);
            for (var i = 0; i < n; i++)
                if (found[i].Score >= truth[t - 1].Score) hits++;
            total += t;
        }
        return hits / (double)total;
    }

    private static double NextGaussian(this Random random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
