using Vib3.Query.Execution;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>SHOW MODELS' rows: every model in the catalog; one whose manifest is unreadable or corrupt has only its
/// name and, in <c>error</c>, why (NULL for a good model), so one broken store neither hides nor breaks the others.</summary>
internal static class Catalog
{
    public static StatementResult Models(ModelCatalog catalog) => StatementResult.Table("SHOW",
        [
            new("name", ColumnType.Text), new("family", ColumnType.Text), new("layers", ColumnType.Int64),
            new("experts", ColumnType.Int64), new("top_k", ColumnType.Int64), new("dtype", ColumnType.Text),
            new("parameters", ColumnType.Int64), new("active_parameters", ColumnType.Int64), new("bytes", ColumnType.Int64),
            new("pages", ColumnType.Int64), new("error", ColumnType.Text),
        ],
        catalog.List().Select(x => x.Manifest is not { } m
            ? new object?[] { x.Name, null, null, null, null, null, null, null, null, null, x.Error }
            : new object?[]
            {
                m.Name, m.Family, (long)m.Hyper.Layers, (long)m.Hyper.Experts, (long)m.Hyper.TopK, m.DType,
                m.Parameters, m.ActiveParameters, m.PageBytes, (long)m.PageCount, null,
            }));
}
