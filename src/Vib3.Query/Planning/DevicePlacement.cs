namespace Vib3.Query.Planning;

/// <summary>What the planner knows of the engine's accelerator for a model: the device, its VRAM budget and what the
/// open models hold of it, and, for a model that is open, which of its matrices could be resident there and which are
/// (whose products run on the device), as the forward pass decided them.</summary>
/// <param name="Candidates">The matrices whose products could run on the device; null: the model is not open.</param>
/// <param name="Resident">The candidates resident now; null: the model is not open.</param>
/// <param name="Failure">Why the open model gave the device up (a product failed), or null.</param>
public sealed record DevicePlacement(string Device, long BudgetBytes, long UsedBytes, IReadOnlySet<string>? Candidates,
    IReadOnlySet<string>? Resident, string? Failure = null);
