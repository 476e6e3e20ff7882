namespace Vib3.Models.Retrieval;

/// <summary>How a sequence's tokens pick expert pages when they do not use every page of the router's top-k.
/// <para>Router-first (<see cref="RouterFirst"/>: <paramref name="Mass"/> or <paramref name="Budget"/> set): the router
/// picks the experts exactly, with their weights; inside them each neuron's contribution is predicted from the neuron
/// keys (<see cref="NeuronKeyLayer"/>), a page scores the router weight × the norm of its neurons' predictions, and a row
/// reads, best first, the pages that reach <paramref name="Mass"/> of its predicted total, or the share
/// <paramref name="Budget"/> of its pages; hot pages always; <paramref name="K"/> &gt; 0 caps the pages a row reads.</para>
/// <para>Key-only: the k bundle pages of each MoE layer whose page keys score highest against the token's FFN input
/// (ef: the HNSW search breadth, 0 = default). Router-aware variants (both off by default): <paramref name="Candidates"/>
/// &gt; 0 keeps only the pages of the router's <paramref name="Candidates"/> most probable experts; <paramref name="Prior"/>
/// &gt; 0 ranks pages by key score + Prior · ln p_router(expert). Either makes the layer's search exhaustive (every page
/// scored, then re-ranked), which is what the exact scan does anyway.</para>
/// <para><paramref name="Keys"/>: router-first's neuron keys as the plan found them, for the program's estimate of the
/// bytes a row reads (null: estimated as CREATE INDEX's default keys); the pass scores with the row's index's keys.</para>
/// <para><paramref name="ExpectedPages"/>: per MoE layer, the share of the router's pages a row was measured to keep at
/// <paramref name="Mass"/> on the index's calibration text (<see cref="Vib3.Storage.Catalog.RetrievalCalibration"/>), for
/// the program's estimate; null: no calibration (a mass target is then estimated at every page).</para>
/// <para><paramref name="LayerMass"/>: per MoE layer, a mass of its own in place of <paramref name="Mass"/> (the
/// calibration's allocation; 1 or more: every page of the router's experts).</para></summary>
public sealed record RetrievalRouting(int K, int Ef = 0, int Candidates = 0, float Prior = 0, double Mass = 0, double Budget = 0,
    Vib3.Storage.Catalog.NeuronKeyHeader? Keys = null, IReadOnlyDictionary<int, double>? ExpectedPages = null,
    IReadOnlyDictionary<int, double>? LayerMass = null)
{
    /// <summary>The mass a row keeps in <paramref name="layer"/> (0: no mass limit, every page the budget and k allow).</summary>
    public double MassIn(int layer) => LayerMass is { } masses && masses.TryGetValue(layer, out var m) ? (m >= 1 ? 0 : m) : Mass;
    /// <summary>Whether the router's probabilities re-rank the key scores.</summary>
    public bool RouterAware => Candidates > 0 || Prior > 0;

    /// <summary>Whether the router picks the experts and the neuron keys the pages inside them.</summary>
    public bool RouterFirst => Mass > 0 || Budget > 0 || LayerMass is not null;
}
