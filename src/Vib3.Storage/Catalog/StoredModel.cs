using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>Which matrix of an expert.</summary>
public enum ExpertMatrixKind
{
    /// <summary>W_gate, [ExpertHidden, Dim].</summary>
    Gate,
    /// <summary>W_up, [ExpertHidden, Dim].</summary>
    Up,
    /// <summary>W_down, [Dim, ExpertHidden].</summary>
    Down,
}

/// <summary>An opened model: its manifest plus its page store. Reassembles whole tensors from pages, which
/// the forward pass never needs (it works on pages) but conversion checks and tools do.</summary>
public sealed class StoredModel : IDisposable
{
    private readonly IPageMemoryForm? _memoryForm;

    private StoredModel(ModelManifest manifest, PageStore store, string dir, IPageMemoryForm? memoryForm)
    {
        Manifest = manifest;
        Store = store;
        Dir = dir;
        _memoryForm = memoryForm;
    }

    public ModelManifest Manifest { get; }

    public PageStore Store { get; }

    public string Dir { get; }

    /// <summary>Reads the manifest and the page table, each verified and validated, and holds one to the other;
    /// pages come from disk when asked for, held in RAM in the form <paramref name="memoryForm"/> gives for the
    /// manifest (null, or no form: as stored).</summary>
    public static StoredModel Open(ModelCatalog catalog, string name, PageStoreOptions options, Func<ModelManifest, IPageMemoryForm?>? memoryForm = null)
    {
        var manifest = catalog.Get(name);
        var dir = catalog.ModelDir(name);
        var form = memoryForm?.Invoke(manifest);
        var store = PageStore.Open(dir, name, options, ClassesFor(manifest), form);
        try
        {
            ManifestValidator.ValidatePages(manifest, store, name);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return new StoredModel(manifest, store, dir, form);
    }

    /// <summary>The pages' classes (a few bytes a page): for an expert-aware policy and the per-layer counters.</summary>
    private static PageClassMap ClassesFor(ModelManifest manifest) => PageClassifier.FromManifest(manifest);

    public TensorEntry Tensor(string name) =>
        Manifest.Tensors.FirstOrDefault(t => t.Name == name)
        ?? throw new Vib3Exception(SqlState.UndefinedObject, $"model '{Manifest.Name}' has no tensor '{name}'");

    /// <summary>A dense tensor's bytes, row-major, in its stored type.</summary>
    public async Task<byte[]> ReadTensorAsync(string name, CancellationToken ct = default)
    {
        var t = Tensor(name);
        var result = new byte[t.PageCount == 0 ? 0 : TensorBytes(t)];
        var at = 0;
        for (var p = 0; p < t.PageCount; p++)
        {
            using var lease = await Store.ReadAsync(t.FirstPage + p, ct).ConfigureAwait(false);
            if (at + lease.Memory.Length > result.Length)
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{Manifest.Name}': tensor '{name}' pages hold more than its {result.Length} bytes");
            StoredBytes(t.FirstPage + p, lease.Memory.Span).CopyTo(result.AsSpan(at));
            at += lease.Memory.Length;
        }
        if (at != result.Length)
            throw new Vib3Exception(SqlState.DataCorrupted, $"model '{Manifest.Name}': tensor '{name}' pages hold {at} bytes, expected {result.Length}");
        return result;
    }

    /// <summary>Page <paramref name="page"/>'s bytes as stored, from the bytes RAM holds (<paramref name="held"/>,
    /// unchanged): the bytes themselves, or a copy rewritten back from the form RAM holds them in.</summary>
    public ReadOnlySpan<byte> StoredBytes(int page, ReadOnlySpan<byte> held)
    {
        if (_memoryForm is null) return held;
        var copy = held.ToArray();
        _memoryForm.ToStored(page, copy);
        return copy;
    }

    /// <summary>One expert matrix reassembled from its bundles, row-major in the grid's type
    /// (gate/up [ExpertHidden, Dim], down [Dim, ExpertHidden]).</summary>
    public async Task<byte[]> ReadExpertMatrixAsync(int layer, int expert, ExpertMatrixKind kind, CancellationToken ct = default)
    {
        var g = Manifest.ExpertGrids.FirstOrDefault(x => x.Layer == layer)
                ?? throw new Vib3Exception(SqlState.UndefinedObject, $"model '{Manifest.Name}' has no experts in layer {layer}");
        if (expert < 0 || expert >= g.Experts)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"layer {layer} has experts 0..{g.Experts - 1}, not {expert}");
        var type = g.GateUpType();
        var downType = g.DownType();
        var result = new byte[(kind == ExpertMatrixKind.Down ? downType : type).ByteCount((long)g.ExpertHidden * g.Dim)];
        var downRowBytes = downType.ByteCount(g.ExpertHidden);
        for (var b = 0; b < g.BundlesPerExpert; b++)
        {
            using var lease = await Store.ReadAsync(g.PageOf(expert, b), ct).ConfigureAwait(false);
            var page = StoredBytes(g.PageOf(expert, b), lease.Memory.Span);
            var r = g.RowsInBundle(b);
            if (page.Length != (int)g.BundleBytes(r))
                throw new Vib3Exception(SqlState.DataCorrupted,
                    $"model '{Manifest.Name}': page {g.PageOf(expert, b)} (layer {layer} expert {expert} bundle {b}) holds {page.Length} bytes, expected {g.BundleBytes(r)}");
            var rowsBytes = (int)type.ByteCount((long)r * g.Dim);
            var rowStartBytes = type.ByteCount((long)b * g.BundleRows * g.Dim);
            switch (kind)
            {
                case ExpertMatrixKind.Gate:
                    page[..rowsBytes].CopyTo(result.AsSpan((int)rowStartBytes));
                    break;
                case ExpertMatrixKind.Up:
                    page.Slice(rowsBytes, rowsBytes).CopyTo(result.AsSpan((int)rowStartBytes));
                    break;
                case ExpertMatrixKind.Down:
                    var slice = (int)downType.ByteCount(r);
                    var colStart = downType.ByteCount((long)b * g.BundleRows);
                    var down = page[(2 * rowsBytes)..];
                    for (var i = 0; i < g.Dim; i++)
                        down.Slice(i * slice, slice).CopyTo(result.AsSpan((int)(i * downRowBytes + colStart)));
                    break;
            }
        }
        return result;
    }

    private static int TensorBytes(TensorEntry t) =>
        checked((int)DTypes.Parse(t.DType).ByteCount(t.Shape.Aggregate(1L, (a, d) => a * d)));

    public void Dispose() => Store.Dispose();
}
