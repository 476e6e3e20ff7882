using System.Globalization;
using Vib3.Core;
using Vib3.Query;
using Vib3.Query.Execution;

namespace Vib3.Engine;

/// <summary>DESCRIBE name: for a system table its columns and their types (what psql's \d shows); for a model its
/// shape, one property a row (the per-layer detail is in vib3_layers).</summary>
internal static class Describer
{
    public static StatementResult Describe(Vib3Engine engine, SystemTables tables, Describe d)
    {
        if (tables.Resolve(d.Name) is { } table)
            return StatementResult.Table("DESCRIBE", [new("column", ColumnType.Text), new("type", ColumnType.Text)],
                table.Columns.Select(c => new object?[] { c.Name, TypeName(c.Type) }));
        if (!engine.Catalog.Exists(d.Name.Name))
            throw new Vib3Exception(SqlState.UndefinedObject,
                $"no system table or model named \"{d.Name.Name}\" (at line {d.Position.Line}:{d.Position.Column})");
        var m = engine.Catalog.Get(d.Name.Name);
        var h = m.Hyper;
        return StatementResult.Table("DESCRIBE", [new("property", ColumnType.Text), new("value", ColumnType.Text)],
            new (string, object)[]
            {
                ("family", m.Family), ("architecture", m.Source.Architecture), ("dtype", m.DType),
                ("layers", h.Layers), ("moe_layers", m.ExpertGrids.Count), ("experts", h.Experts), ("top_k", h.TopK),
                ("hidden", h.Dim), ("expert_hidden", h.ExpertHidden), ("heads", h.Heads), ("kv_heads", h.KvHeads),
                ("vocab", h.Vocab), ("context", h.Context), ("parameters", m.Parameters),
                ("active_parameters", m.ActiveParameters), ("pages", m.PageCount), ("bytes", m.PageBytes),
            }.Select(p => new object?[] { p.Item1, System.Convert.ToString(p.Item2, CultureInfo.InvariantCulture) }));
    }

    /// <summary>The PostgreSQL name of a column type, as \d prints it.</summary>
    private static string TypeName(ColumnType type) => type switch
    {
        ColumnType.Text => "text",
        ColumnType.Int64 => "bigint",
        ColumnType.Float64 => "double precision",
        ColumnType.Bool => "boolean",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
