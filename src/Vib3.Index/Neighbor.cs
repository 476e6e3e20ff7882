namespace Vib3.Index;

/// <summary>One search result: the vector's id (its row in the build set) and its score (higher is closer; see
/// <see cref="VectorMetric"/>).</summary>
public readonly record struct Neighbor(int Id, float Score);
