using Vib3.Query.Execution;

namespace Vib3.Engine;

/// <summary>The columns of every vib3_* system table, defined once: the tables built from the catalog and the open
/// models (<see cref="SystemTables"/>, <see cref="IndexStatements"/>), SHOW MODELS (a SELECT on vib3_models) and the
/// Postgres server's pg_catalog (psql's \d) all read them from here.</summary>
public static class SystemTableSchemas
{
    public static readonly IReadOnlyList<ColumnDef> Models =
    [
        new("name", ColumnType.Text), new("family", ColumnType.Text), new("architecture", ColumnType.Text),
        new("layers", ColumnType.Int64), new("experts", ColumnType.Int64), new("top_k", ColumnType.Int64),
        new("dtype", ColumnType.Text), new("parameters", ColumnType.Int64), new("active_parameters", ColumnType.Int64),
        new("bytes", ColumnType.Int64), new("pages", ColumnType.Int64), new("error", ColumnType.Text),
    ];

    public static readonly IReadOnlyList<ColumnDef> Layers =
    [
        new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("experts", ColumnType.Int64),
        new("top_k", ColumnType.Int64), new("bundle_rows", ColumnType.Int64), new("bundles_per_expert", ColumnType.Int64),
        new("expert_bytes", ColumnType.Int64), new("gate_up_dtype", ColumnType.Text), new("down_dtype", ColumnType.Text),
        new("bits_per_weight", ColumnType.Float64),
    ];

    public static readonly IReadOnlyList<ColumnDef> Tensors =
    [
        new("model", ColumnType.Text), new("name", ColumnType.Text), new("layer", ColumnType.Int64), new("role", ColumnType.Text),
        new("dtype", ColumnType.Text), new("shape", ColumnType.Text), new("parameters", ColumnType.Int64), new("bytes", ColumnType.Int64),
        new("bits_per_weight", ColumnType.Float64),
    ];

    public static readonly IReadOnlyList<ColumnDef> Experts =
    [
        new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("expert", ColumnType.Int64),
        new("pages", ColumnType.Int64), new("bytes", ColumnType.Int64), new("times_selected", ColumnType.Int64),
    ];

    public static readonly IReadOnlyList<ColumnDef> Tiers =
    [
        new("model", ColumnType.Text), new("tier", ColumnType.Text), new("resident_pages", ColumnType.Int64),
        new("resident_bytes", ColumnType.Int64), new("capacity_bytes", ColumnType.Int64), new("hits", ColumnType.Int64),
        new("misses", ColumnType.Int64), new("bytes_read", ColumnType.Int64), new("evictions", ColumnType.Int64),
        new("prefetched_pages", ColumnType.Int64), new("prefetched_used", ColumnType.Int64),
        new("page_wait_seconds", ColumnType.Float64), new("direct_io", ColumnType.Bool), new("failure", ColumnType.Text),
    ];

    public static readonly IReadOnlyList<ColumnDef> ExpertTiers =
    [
        new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("hits", ColumnType.Int64),
        new("joined", ColumnType.Int64), new("from_disk", ColumnType.Int64), new("hit_rate", ColumnType.Float64),
        new("vram_hits", ColumnType.Int64), new("vram_uploads", ColumnType.Int64), new("vram_cpu_pages", ColumnType.Int64),
        new("vram_evictions", ColumnType.Int64),
    ];

    public static readonly IReadOnlyList<ColumnDef> Sessions =
    [
        new("id", ColumnType.Int64), new("client", ColumnType.Text), new("application_name", ColumnType.Text),
        new("current_model", ColumnType.Text), new("state", ColumnType.Text), new("statement", ColumnType.Text),
        new("started_at", ColumnType.Text),
    ];

    public static readonly IReadOnlyList<ColumnDef> Indexes =
    [
        new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("pages", ColumnType.Int64), new("dims", ColumnType.Int64),
        new("keys", ColumnType.Text), new("metric", ColumnType.Text), new("kind", ColumnType.Text), new("m", ColumnType.Int64),
        new("neuron_keys", ColumnType.Text), new("bytes", ColumnType.Int64), new("calibration", ColumnType.Text),
        new("calibrated_mass", ColumnType.Float64), new("expected_pages", ColumnType.Float64),
    ];

    /// <summary>Every system table by name, in ordinal name order (as psql's ORDER BY under the C collation lists them).</summary>
    public static readonly IReadOnlyList<KeyValuePair<string, IReadOnlyList<ColumnDef>>> ByName =
    [
        new("vib3_expert_tiers", ExpertTiers),
        new("vib3_experts", Experts),
        new("vib3_indexes", Indexes),
        new("vib3_layers", Layers),
        new("vib3_models", Models),
        new("vib3_sessions", Sessions),
        new("vib3_tensors", Tensors),
        new("vib3_tiers", Tiers),
    ];
}
