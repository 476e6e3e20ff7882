using Vib3.Core;
using Vib3.Models.Retrieval;
using Vib3.Storage.Catalog;

namespace Vib3.Engine.Serving;

/// <summary>The page index of one opened model, the one place it is loaded, replaced and dropped: read from the model's
/// folder (and verified) on the first retrieval statement, never rebuilt there, so a corrupt index fails retrieval with
/// DataCorrupted while USING ROUTER keeps working; replaced whole by CREATE INDEX; dropped by DROP INDEX. A sequence
/// takes the index current when it starts and carries it in each of its rows to its last token, so a CREATE or DROP
/// INDEX beside it never changes a generation half way.</summary>
internal sealed class ModelIndex(string modelDir, IReadOnlyDictionary<int, ExpertGridEntry> grids, string model)
{
    private readonly Lock _gate = new();
    private PageIndex? _index;

    /// <summary>The index for a statement starting now: loaded on first use; 0A000 when the model has none.</summary>
    public PageIndex Current()
    {
        lock (_gate)
            return _index ??= PageIndex.TryLoad(modelDir, grids, model)
                ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
                    $"USING RETRIEVAL needs a page index and model \"{model}\" has none: run CREATE INDEX ON MODEL {ModelNames.ForStatement(model)} first");
    }

    /// <summary>CREATE INDEX: statements starting from now use <paramref name="index"/>.</summary>
    public void Replace(PageIndex index)
    {
        lock (_gate) _index = index;
    }

    /// <summary>DROP INDEX: statements starting from now find none (the folder's files are gone).</summary>
    public void Drop()
    {
        lock (_gate) _index = null;
    }
}
