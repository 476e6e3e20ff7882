namespace Vib3.Query.Planning;

/// <summary>What the planner knows of the engine's accelerator for a model: the device, its VRAM budget and what the
/// open models hold of it, and, for a model that is open, which of its matrices could be resident there and which are
/// (whose products run on the device), as the forward pass decided them.</summary>
/// <param name="Candidates">The matrices whose products could run on the device; null: the model is not open.</param>
/// <param name="Resident">The candidates resident now; null: the model is not open.</param>
/// <param name="Failure">Why the open model gave the device up (a product failed), or null.</param>
/// <param name="Experts">The open model's VRAM expert cache, or null (not open, no routed experts the device runs, or no
/// room left in the budget).</param>
public sealed record DevicePlacement(string Device, long BudgetBytes, long UsedBytes, IReadOnlySet<string>? Candidates,
    IReadOnlySet<string>? Resident, string? Failure = null, ExpertCachePlacement? Experts = null);

/// <summary>A VRAM expert cache: its slots (one bundle page each, <paramref name="SlotBytes"/>), the pages it could
/// hold (every routed expert page the device can run) and those resident now.</summary>
public sealed record ExpertCachePlacement(int Slots, long SlotBytes, long Pages, int Resident);
