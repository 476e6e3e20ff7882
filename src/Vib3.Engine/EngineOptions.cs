namespace Vib3.Engine;

/// <param name="DataDir">Where the catalog lives.</param>
/// <param name="RamBudgetBytes">RAM each open model's page store may hold.</param>
public sealed record EngineOptions(string DataDir, long RamBudgetBytes);
