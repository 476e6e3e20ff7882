using Vib3.Query.Execution;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>SHOW MODELS' rows.</summary>
internal static class Catalog
{
    public static StatementResult Models(ModelCatalog catalog) => StatementResult.Table("SHOW",
        [
            new("name", ColumnType.Text), new("family", ColumnType.Text), new("layers", ColumnType.Int64),
            new("experts", ColumnType.Int64), new("top_k", ColumnType.Int64), new("dtype", ColumnType.Text),
            new("parameters", ColumnType.Int64), new("active_parameters", ColumnType.Int64), new("bytes", ColumnType.Int64),
            new("pages", ColumnType.Int64),
        ],
        catalog.List().Where(x => x.Manifest is not null).Select(x =>
        {
            var m = x.Manifest!;
            return new object?[]
            {
                m.Name, m.Family, (long)m.Hyper.Layers, (long)m.Hyper.Experts, (long)m.Hyper.TopK, m.DType,
                m.Parameters, m.ActiveParameters, m.PageBytes, (long)m.PageCount,
            };
        }));
}
