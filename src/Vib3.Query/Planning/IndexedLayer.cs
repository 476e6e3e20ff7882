using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>One MoE layer of a model's page index as the planner sees it: the keys' header (keys not loaded), the M
/// of the layer's HNSW graph (null: keys only, searched by exact scan) and its neuron keys' header (null: none).</summary>
public sealed record IndexedLayer(PageKeyLayer Keys, int? GraphM, NeuronKeyHeader? NeuronKeys = null);
