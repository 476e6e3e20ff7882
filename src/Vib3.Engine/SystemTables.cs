using Vib3.Core;
using Vib3.Engine.Settings;
using Vib3.Query;
using Vib3.Query.Execution;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>The vib3_* system tables, built on demand from the catalog and the session's open models:
/// vib3_models, vib3_layers (incl. each layer's expert types), vib3_tensors (every weight's type and bits per weight),
/// vib3_experts (pages, bytes, times the router chose each expert), vib3_tiers
/// (per open model: RAM tier counters incl. expert pages prefetched and used, and the disk tier's size; and a row with
/// no model for the engine-wide RAM budget they share), vib3_expert_tiers
/// (per open model and layer: expert-page reads served from RAM, joined to a read in progress, read from disk), vib3_sessions (every open session, like pg_stat_activity), vib3_indexes (per model and MoE layer: its page index's keys).</summary>
internal sealed class SystemTables(Vib3Engine engine, Session session)
{
    public Table? Resolve(Identifier name) => name.Name.ToLowerInvariant() switch
    {
        "vib3_models" => Models(),
        "vib3_layers" => Layers(),
        "vib3_tensors" => Tensors(),
        "vib3_experts" => Experts(null, null),
        "vib3_tiers" => Tiers(),
        "vib3_expert_tiers" => ExpertTiers(),
        "vib3_sessions" => Sessions(),
        "vib3_indexes" => IndexStatements.Table(engine),
        _ => null,
    };

    private IEnumerable<ModelManifest> Manifests() =>
        engine.Catalog.List().Where(x => x.Manifest is not null).Select(x => x.Manifest!);

    public Table Models() => new("vib3_models",
        SystemTableSchemas.Models,
        // A model whose manifest is unreadable or corrupt is a row with its name and error (SHOW MODELS reads these rows).
        engine.Catalog.List().Select(x => x.Manifest is not { } m
            ? new object?[] { x.Name, null, null, null, null, null, null, null, null, null, null, x.Error }
            : new object?[]
            {
                m.Name, m.Family, m.Source.Architecture, (long)m.Hyper.Layers, (long)m.Hyper.Experts, (long)m.Hyper.TopK,
                m.DType, m.Parameters, m.ActiveParameters, m.PageBytes, (long)m.PageCount, null,
            }));

    public Table Layers() => new("vib3_layers",
        SystemTableSchemas.Layers,
        Manifests().SelectMany(m => m.ExpertGrids.Select(g => new object?[]
        {
            m.Name, (long)g.Layer, (long)g.Experts, (long)m.Hyper.TopK, (long)g.BundleRows, (long)g.BundlesPerExpert,
            g.BundleBytes(g.ExpertHidden), g.GateUpType().Name(), g.DownType().Name(),
            // an expert's gate, up and down matrices: 3 × hidden × dim parameters in expert_bytes
            g.BundleBytes(g.ExpertHidden) * 8.0 / (3L * g.ExpertHidden * g.Dim),
        })));

    /// <summary>Every weight of every stored model: dense tensors and each MoE layer's three expert matrices, with
    /// the type it is stored in and its bits per weight. layer is null outside the blocks.</summary>
    public Table Tensors() => new("vib3_tensors",
        SystemTableSchemas.Tensors,
        Manifests().SelectMany(m => StoredTensors.Of(m).Select(t => new object?[]
        {
            m.Name, t.Name, (long?)t.Layer, t.Role, t.DType.Name(), t.ShapeText, t.Parameters, t.Bytes, t.BitsPerWeight,
        })));

    public Table Experts(string? model, int? layer) => new("vib3_experts",
        SystemTableSchemas.Experts,
        Manifests()
            .Where(m => model is null || string.Equals(m.Name, model, StringComparison.OrdinalIgnoreCase))
            .SelectMany(m => m.ExpertGrids.Where(g => layer is null || g.Layer == layer).SelectMany(g =>
                Enumerable.Range(0, g.Experts).Select(e => new object?[]
                {
                    m.Name, (long)g.Layer, (long)e, (long)g.BundlesPerExpert,
                    g.BundleBytes(g.ExpertHidden),
                    session.Routing(m.Name)?.Selected(g.Layer, e) ?? 0L,
                }))));

    public Table Tiers() => new("vib3_tiers",
        SystemTableSchemas.Tiers,
        session.OpenModels().SelectMany(x =>
        {
            // capacity_bytes of a model's RAM row is the shared budget: the most it can hold, by evicting the others.
            var s = x.Weights.Store.Stats;
            var p = x.Weights.Store.Prefetches;
            // Stalls are charged to the disk: a RAM hit never makes compute wait.
            var rows = new List<object?[]>
            {
                new object?[] { x.Model, "ram", s.ResidentPages, s.ResidentBytes, s.CapacityBytes, s.Hits, s.Misses, null, s.Evictions, p.Issued, p.Used, null, null, null },
                // direct_io false: O_DIRECT was refused (tmpfs, some overlays) and pages are read through the OS cache
                new object?[] { x.Model, "disk", (long)x.Weights.Store.PageCount, x.Weights.Manifest.PageBytes, null, null, null, s.BytesRead, null, null, null,
                    x.Weights.PageWaits.Seconds, x.Weights.Store.IsDirectIo, null },
            };
            // The pages resident in VRAM (the dense matrices whose products run there and the expert pages cached), against
            // the shared budget; hits: expert pages run where resident; misses: those uploaded or computed on the CPU;
            // failure: why the device was given up.
            if (x.Device is { } d && d.Stats is var v)
                rows.Add([x.Model, "vram", v.ResidentPages, v.ResidentBytes, d.Tier.BudgetBytes, v.Experts.Hits, v.Experts.Uploads + v.Experts.CpuPages,
                    null, v.Experts.Evictions, null, null, null, null, v.Failure]);
            return rows;
        }).Append(EngineRamRow()).Concat(EngineVramRow()));

    /// <summary>The engine-wide VRAM budget and what the open models hold of it (their resident matrices and their expert
    /// caches' slots, filled or not); no row without a device.</summary>
    private IEnumerable<object?[]> EngineVramRow() => engine.DeviceTier is { } t
        ? [[null, "vram", null, t.UsedBytes, t.BudgetBytes, null, null, null, null, null, null, null, null, null]]
        : [];

    /// <summary>The engine-wide budget: every open model's pages together (the sum of their RAM rows, plus pages of a
    /// dropped model that a running read still holds), the budget, and the evictions it made.</summary>
    private object?[] EngineRamRow()
    {
        var p = engine.Generations.RamBudget;
        return [null, "ram", p.ResidentPages, p.ResidentBytes, p.CapacityBytes, null, null, null, p.Evictions, null, null, null, null, null];
    }

    /// <summary>Per layer, the RAM tier's expert-page reads and, with a VRAM expert cache, where the cache ran the
    /// layer's pages (resident, uploaded, on the CPU) and its evictions of them; null without one. A model whose store
    /// was opened without the pages' classes has no per-layer counters, so no rows.</summary>
    public Table ExpertTiers() => new("vib3_expert_tiers",
        SystemTableSchemas.ExpertTiers,
        session.OpenModels().SelectMany(x => (x.Weights.Store.ExpertTiersByLayer ?? []).Select(l =>
        {
            var vram = x.Device?.Experts?.CountsOf(l.Layer);
            return new object?[] { x.Model, (long)l.Layer, l.Hits, l.Joined, l.Misses, l.HitRate, vram?.Hits, vram?.Uploads, vram?.CpuPages, vram?.Evictions };
        })));

    /// <summary>Text shown instead of another client's statement to a session that is not an administrator, as
    /// PostgreSQL's pg_stat_activity shows it to a non-superuser.</summary>
    public const string HiddenStatement = "<insufficient privilege>";

    /// <summary>Every open session of the engine, like pg_stat_activity: state is "active" while a statement runs,
    /// else "idle"; statement is the running or last one, clipped to <see cref="Session.MaxShownStatementChars"/>.</summary>
    public Table Sessions() => new("vib3_sessions",
        SystemTableSchemas.Sessions,
        engine.Sessions.Select(s =>
        {
            var (active, statement) = s.Activity;
            var mayRead = s == session || session.Access.Administrator;
            return new object?[]
            {
                s.Id, s.Access.Client, s.Settings.Get(SettingRegistry.ApplicationName), s.CurrentModel,
                active ? "active" : "idle", mayRead || statement is null ? statement : HiddenStatement,
                s.StartedAt.ToString("yyyy-MM-dd HH:mm:ss.fffzzz", System.Globalization.CultureInfo.InvariantCulture),
            };
        }));
}
