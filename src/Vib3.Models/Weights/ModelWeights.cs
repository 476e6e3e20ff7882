using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Weights;

/// <summary>Computes with page <paramref name="index"/> (0-based within the tensor or expert) while it is leased.</summary>
public delegate void PageConsumer(int index, ReadOnlySpan<byte> page);

/// <summary>Computes with the pages <paramref name="indices"/> name (positions in the list streamed) while they are leased.</summary>
public delegate void PageSetConsumer(IReadOnlyList<int> indices, IReadOnlyList<ReadOnlyMemory<byte>> pages);

/// <summary>The model's weights as the forward pass asks for them: by tensor name or by (layer, expert), always
/// as pages leased from the store. Only the manifest is read at open; every weight comes through the tiers.</summary>
public sealed class ModelWeights : IDisposable
{
    private readonly StoredModel _model;
    private readonly Dictionary<string, DenseWeight> _dense;
    private readonly PageWaits _waits = new();
    private readonly InterleavedPageForm? _form;

    private ModelWeights(StoredModel model, InterleavedPageForm? form)
    {
        _model = model;
        _form = form;
        _dense = model.Manifest.Tensors.ToDictionary(t => t.Name, t => new DenseWeight(t, form?.Layout(t) ?? Kernels.WeightLayout.Rows), StringComparer.Ordinal);
        ExpertGrids = model.Manifest.ExpertGrids.ToDictionary(g => g.Layer);
    }

    public ModelManifest Manifest => _model.Manifest;

    public PageStore Store => _model.Store;

    public string TokenizerDir => Path.Combine(_model.Dir, "tokenizer");

    /// <summary>Time the streams below spent with no page ready to compute on (since the weights were opened).</summary>
    public PageWaitStats PageWaits => _waits.Snapshot();

    /// <summary>Routed experts per layer (layers without experts are absent).</summary>
    public IReadOnlyDictionary<int, ExpertGridEntry> ExpertGrids { get; }

    /// <summary>Opens the model for inference: its Q4_K/Q5_K/Q6_K matrix pages held in RAM in the form the kernels read
    /// fastest (<see cref="InterleavedPageForm"/>), unless <paramref name="interleave"/> is false (llama.cpp's
    /// --no-repack: every page held as stored; the same results, bit for bit).</summary>
    public static ModelWeights Open(ModelCatalog catalog, string name, PageStoreOptions options, bool interleave = true)
    {
        InterleavedPageForm? form = null;
        var model = StoredModel.Open(catalog, name, options, manifest => form = interleave ? InterleavedPageForm.For(manifest) : null);
        return new ModelWeights(model, form);
    }

    /// <summary>How layer <paramref name="grid"/>'s expert pages hold their gate-and-up rows and their down slices
    /// in RAM (<see cref="InterleavedPageForm"/>).</summary>
    public (Kernels.WeightLayout GateUp, Kernels.WeightLayout Down) ExpertLayouts(ExpertGridEntry grid) =>
        _form?.Layouts(grid) ?? (Kernels.WeightLayout.Rows, Kernels.WeightLayout.Rows);

    /// <summary>Page <paramref name="page"/>'s bytes as stored (<see cref="StoredModel.StoredBytes"/>).</summary>
    public ReadOnlySpan<byte> StoredBytes(int page, ReadOnlySpan<byte> held) => _model.StoredBytes(page, held);

    public DenseWeight Tensor(string name) =>
        _dense.TryGetValue(name, out var w)
            ? w
            : throw new Vib3Exception(SqlState.UndefinedObject, $"model '{Manifest.Name}' has no tensor '{name}'");

    public DenseWeight? TryTensor(string name) => _dense.GetValueOrDefault(name);

    /// <summary>Hands the pages [first, first+count) to <paramref name="consume"/> in order, one at a time, reading up
    /// to <see cref="ReadAhead"/> pages ahead (fewer when the page cache holds fewer). A page is released before the next is awaited, so a tensor larger than
    /// the RAM budget streams through it instead of waiting for room it holds itself. A cancelled
    /// <paramref name="ct"/> stops it before the next page is computed on (a read under way is waited for and
    /// released, not used). Do not nest streams over one
    /// store (a consumer that starts another stream): at a tight budget the inner one could wait on the outer's pages.</summary>
    /// <param name="tally">Counts how each page was found (by its index in the stream); null counts nothing.</param>
    public async ValueTask StreamPagesAsync(int first, int count, PageConsumer consume, CancellationToken ct = default, PageReadTally? tally = null)
    {
        // Never more pages outstanding than the cache holds at once: a later page that is resident is pinned at once,
        // and the earlier read it overtook would then wait for room that only this stream's own pages could free.
        var window = Math.Clamp(Store.PagesThatFit, 1, ReadAhead);
        var pending = new Queue<ValueTask<PageLease>>();
        var next = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                while (next < count && pending.Count < window) pending.Enqueue(Store.ReadAsync(first + next++, ct));
                using var lease = await _waits.Await(pending.Dequeue()).ConfigureAwait(false);
                ct.ThrowIfCancellationRequested(); // a hit completes without looking at the token
                tally?.Count(i, lease);
                consume(i, lease.Memory.Span);
            }
        }
        finally
        {
            while (pending.Count > 0)
            {
                try { (await pending.Dequeue().ConfigureAwait(false)).Dispose(); }
                catch (Exception) { /* the first failure is the one reported */ }
            }
        }
    }

    /// <summary>Hands every page of <paramref name="pages"/> to <paramref name="consume"/> (with its index in the list)
    /// in the order the reads complete, not the list's: hits first, then disk reads as they land, with up to
    /// <see cref="UnorderedInFlight"/> reads outstanding (fewer when the page cache holds fewer pages) and no thread
    /// waiting on any of them. A page is released as soon as its consumer returns. Consumers that must add results
    /// up in a fixed order keep them per index and sum afterwards.</summary>
    public ValueTask StreamPagesUnorderedAsync(IReadOnlyList<int> pages, PageConsumer consume, CancellationToken ct = default,
        PageReadTally? tally = null) =>
        StreamPagesUnorderedAsync(pages, 1, (indices, memories) =>
        {
            for (var i = 0; i < indices.Count; i++) consume(indices[i], memories[i].Span);
        }, ct, tally);

    /// <summary><see cref="StreamPagesUnorderedAsync(IReadOnlyList{int}, PageConsumer, CancellationToken, PageReadTally)"/>, handing
    /// over pages in groups so a consumer can compute on several at once, one per thread: every page found in RAM as
    /// the list is walked (a hit completes at once and is no read in flight: with the pages in RAM the whole list comes
    /// in one call, however long), else the disk reads that have landed, up to <paramref name="group"/>, as they land.
    /// A group is consumed, and its pages released, before any read is waited on, so hits held never keep a read from
    /// the RAM it waits for.</summary>
    public async ValueTask StreamPagesUnorderedAsync(IReadOnlyList<int> pages, int group, PageSetConsumer consume, CancellationToken ct = default,
        PageReadTally? tally = null)
    {
        var limit = Math.Clamp(Store.PagesThatFit, 1, UnorderedInFlight);
        group = Math.Clamp(group, 1, limit);
        var pending = new List<Task<(int Index, PageLease Lease)>>(limit);
        var ready = new List<(int Index, PageLease Lease)>(group);
        var next = 0;
        try
        {
            while (next < pages.Count || pending.Count > 0)
            {
                while (next < pages.Count && pending.Count < limit)
                {
                    var read = Store.ReadAsync(pages[next], ct);
                    if (read.IsCompletedSuccessfully) ready.Add((next, read.Result));
                    else pending.Add(Indexed(next, read));
                    next++;
                }
                if (ready.Count == 0)
                {
                    var done = await _waits.First(pending).ConfigureAwait(false);
                    pending.Remove(done);
                    ready.Add(await done.ConfigureAwait(false));
                    for (var i = 0; i < pending.Count && ready.Count < group;)
                    {
                        if (!pending[i].IsCompleted) { i++; continue; }
                        var landed = pending[i];
                        pending.RemoveAt(i);
                        ready.Add(await landed.ConfigureAwait(false));
                    }
                }
                ct.ThrowIfCancellationRequested();
                if (tally is not null) foreach (var r in ready) tally.Count(r.Index, r.Lease);
                consume(ready.Select(r => r.Index).ToArray(), ready.Select(r => r.Lease.Memory).ToArray());
                foreach (var r in ready) r.Lease.Dispose();
                ready.Clear();
            }
        }
        finally
        {
            foreach (var r in ready) r.Lease.Dispose();
            foreach (var read in pending)
            {
                try { (await read.ConfigureAwait(false)).Lease.Dispose(); }
                catch (Exception) { /* the first failure is the one reported */ }
            }
        }

        static async Task<(int, PageLease)> Indexed(int index, ValueTask<PageLease> read) => (index, await read.ConfigureAwait(false));
    }

    /// <summary>Reads outstanding at once in <see cref="StreamPagesUnorderedAsync"/>.</summary>
    public const int UnorderedInFlight = 16;

    public ValueTask StreamAsync(DenseWeight w, PageConsumer consume, CancellationToken ct = default, PageReadTally? tally = null) =>
        StreamPagesAsync(w.FirstPage, w.PageCount, consume, ct, tally);

    /// <summary>Pages read ahead of the one being computed.</summary>
    public const int ReadAhead = 4;

    public void Dispose() => _model.Dispose();
}
