using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>One MoE layer of a model's page index as the planner sees it: the keys' header (keys not loaded), the M
/// of the layer's HNSW graph (null: keys only, searched by exact scan), its neuron keys' header (null: none) and the
/// index's retrieval calibration (null: none; the same for every layer).</summary>
public sealed record IndexedLayer(PageKeyLayer Keys, int? GraphM, NeuronKeyHeader? NeuronKeys = null, RetrievalCalibration? Calibration = null);
