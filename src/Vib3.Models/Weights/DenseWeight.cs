using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Weights;

/// <summary>A dense tensor of the model as the forward pass sees it: a row-major [Rows, Cols] matrix (or a vector,
/// Rows = 1) cut by rows into pages of RowsPerPage rows.</summary>
public sealed class DenseWeight
{
    internal DenseWeight(TensorEntry entry, Kernels.WeightLayout layout)
    {
        Entry = entry;
        Layout = layout;
        Type = DTypes.Parse(entry.DType);
        Rows = entry.Shape.Length == 1 ? 1 : checked((int)entry.Shape[0]);
        Cols = checked((int)entry.Shape[^1]);
    }

    public TensorEntry Entry { get; }

    public DType Type { get; }

    public int Rows { get; }

    public int Cols { get; }

    /// <summary>How its pages hold the rows in RAM (<see cref="InterleavedPageForm"/>).</summary>
    public Kernels.WeightLayout Layout { get; }

    public int FirstPage => Entry.FirstPage;

    public int PageCount => Entry.PageCount;

    /// <summary>y[Rows] = W · x[Cols] for the rows page <paramref name="index"/> holds, of the vector <paramref name="x"/>
    /// holds, quantised once for every page (and every other matrix) that multiplies it.</summary>
    public void MatVecPage(int index, ReadOnlySpan<byte> page, Kernels.MatVecInput x, Span<float> y)
    {
        var (start, count) = PageRows(index);
        Kernels.MatVec.Compute(Type, Layout, page, count, Cols, x, y.Slice(start, count));
    }

    /// <summary>The rows the pages <paramref name="indices"/> (0-based within the tensor) hold, · x, as one job over
    /// all of them (<see cref="Kernels.MatVec.Compute(DType, IReadOnlyList{Kernels.RowPage}, int, Kernels.MatVecInput, Span{float})"/>).</summary>
    public void MatVecPages(IReadOnlyList<int> indices, IReadOnlyList<ReadOnlyMemory<byte>> pages, Kernels.MatVecInput x, Span<float> y)
    {
        var rows = new Kernels.RowPage[indices.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var (start, count) = PageRows(indices[i]);
            rows[i] = new Kernels.RowPage(pages[i], start, count);
        }
        Kernels.MatVec.Compute(Type, Layout, rows, Cols, x, y[..Rows]);
    }

    /// <summary>The store's page ids of this tensor, in row order.</summary>
    public IReadOnlyList<int> PageIds => _pageIds ??= Enumerable.Range(FirstPage, PageCount).ToArray();

    private int[]? _pageIds;

    /// <summary>Y[n, Rows] = X[n, Cols] · Wᵀ for the rows page <paramref name="index"/> holds (prefill).
    /// <paramref name="scratch"/> holds n × RowsPerPage floats.</summary>
    public void MatMulPage(int index, ReadOnlySpan<byte> page, ReadOnlySpan<float> x, int n, Span<float> y, Span<float> scratch)
    {
        var (start, count) = PageRows(index);
        var part = scratch[..(n * count)];
        Kernels.MatMul.Compute(Type, Layout, page, count, Cols, x, n, part);
        for (var i = 0; i < n; i++)
            part.Slice(i * count, count).CopyTo(y.Slice(i * Rows + start, count));
    }

    /// <summary>Per-head products for the rows page <paramref name="index"/> holds: row r belongs to head
    /// r / <paramref name="rowsPerHead"/> and multiplies that head's slice of x, y[r] = W[r] · x[head·xHeadStride ..][..Cols]
    /// (latent attention's k_b and v_b, one small matrix per head stacked by rows).</summary>
    public void HeadMatVecPage(int index, ReadOnlySpan<byte> page, int rowsPerHead, ReadOnlySpan<float> x, int xHeadStride, Span<float> y)
    {
        RequireRows();
        var (start, count) = PageRows(index);
        var rowBytes = (int)Type.ByteCount(Cols);
        for (var r = start; r < start + count;)
        {
            var head = r / rowsPerHead;
            var run = Math.Min(start + count, (head + 1) * rowsPerHead) - r;
            Kernels.MatVec.Compute(Type, page.Slice((r - start) * rowBytes, run * rowBytes), run, Cols,
                x.Slice(head * xHeadStride, Cols), y.Slice(r, run));
            r += run;
        }
    }

    /// <summary><see cref="HeadMatVecPage"/> for n inputs at once (x rows <paramref name="xStride"/> apart, y rows
    /// <paramref name="yStride"/> apart): each head's rows in the page are one matrix product over the n inputs' slices
    /// of that head, so the page's weights are read once per step, not once per input. <paramref name="scratch"/> holds
    /// n × (Cols + RowsPerPage) floats.</summary>
    public void HeadMatMulPage(int index, ReadOnlySpan<byte> page, int rowsPerHead, ReadOnlySpan<float> x, int xStride, int xHeadStride,
        int n, Span<float> y, int yStride, Span<float> scratch)
    {
        RequireRows();
        var (start, count) = PageRows(index);
        var rowBytes = (int)Type.ByteCount(Cols);
        var inputs = scratch[..(n * Cols)];                       // [n, Cols] the head's slice of every input
        var outputs = scratch.Slice(n * Cols, n * Entry.RowsPerPage); // [n, run] the product
        for (var r = start; r < start + count;)
        {
            var head = r / rowsPerHead;
            var run = Math.Min(start + count, (head + 1) * rowsPerHead) - r;
            for (var i = 0; i < n; i++) x.Slice(i * xStride + head * xHeadStride, Cols).CopyTo(inputs.Slice(i * Cols, Cols));
            Kernels.MatMul.Compute(Type, page.Slice((r - start) * rowBytes, run * rowBytes), run, Cols, inputs, n, outputs[..(n * run)]);
            for (var i = 0; i < n; i++) outputs.Slice(i * run, run).CopyTo(y.Slice(i * yStride + r, run));
            r += run;
        }
    }

    /// <summary>Row <paramref name="row"/> as f32, from the page that holds it (see <see cref="PageOfRow"/>).</summary>
    public void Row(ReadOnlySpan<byte> page, int row, Span<float> dst)
    {
        RequireRows();
        var inPage = row % Entry.RowsPerPage;
        var rowBytes = (int)Type.ByteCount(Cols);
        DTypeConvert.ToF32(Type, page.Slice(inPage * rowBytes, rowBytes), dst[..Cols]);
    }

    /// <summary>Decodes the rows page <paramref name="index"/> holds into <paramref name="all"/> (Rows × Cols f32).</summary>
    public void ToF32Page(int index, ReadOnlySpan<byte> page, Span<float> all)
    {
        RequireRows();
        var (start, count) = PageRows(index);
        DTypeConvert.ToF32(Type, page, all.Slice(start * Cols, count * Cols));
    }

    /// <summary>The accessors that read rows or per-head slices need the stored layout; the page form never
    /// interleaves the tensors they serve (<see cref="InterleavedPageForm"/>).</summary>
    private void RequireRows()
    {
        if (Layout != Kernels.WeightLayout.Rows)
            throw new InvalidOperationException($"tensor '{Entry.Name}' is held interleaved; its rows are read only through whole-page products");
    }

    public int PageOfRow(int row) => FirstPage + row / Entry.RowsPerPage;

    private (int Start, int Count) PageRows(int p)
    {
        var start = p * Entry.RowsPerPage;
        return (start, Math.Min(Entry.RowsPerPage, Rows - start));
    }
}
