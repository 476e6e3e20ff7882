namespace Vib3.Query.Planning;

/// <summary>What the planner knows of the engine's accelerator for a model: the device, its VRAM budget and what the
/// open models hold of it, and, for a model that is open, the names of its dense matrices resident there (whose
/// products run on the device).</summary>
/// <param name="Resident">Null: the model is not open, so nothing of it is resident yet.</param>
/// <param name="Failure">Why the open model gave the device up (a product failed), or null.</param>
public sealed record DevicePlacement(string Device, long BudgetBytes, long UsedBytes, IReadOnlySet<string>? Resident, string? Failure = null);
