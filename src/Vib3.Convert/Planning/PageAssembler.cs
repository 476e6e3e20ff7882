using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Core.IO;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>Builds page bytes from source tensors, converting element types on the way. Holds one expert's
/// down matrix (its columns are strided in the source, so it is read once per expert rather than Dim times
/// per bundle) and one page; nothing else of the model is in memory.</summary>
internal sealed class PageAssembler
{
    private readonly ICheckpointReader _reader;
    private readonly ConversionPlan _plan;
    private byte[] _source = [];
    private byte[] _page = [];
    private byte[] _down = [];
    private (ExpertMatrix Gate, ExpertMatrix Up, ExpertMatrix Down) _expert;
    private int[]? _neurons; // the loaded expert's neuron order (bundle b holds _neurons[b·R .. (b+1)·R)), null: as trained
    private (DType GateUp, DType Down) _types;

    public PageAssembler(ICheckpointReader reader, ConversionPlan plan)
    {
        _reader = reader;
        _plan = plan;
    }

    /// <summary>Rows [row, row+count) of a dense tensor, in its target type.</summary>
    public ReadOnlySpan<byte> DenseChunk(DenseTensorPlan t, long row, long count)
    {
        var srcType = t.Source.DType;
        var values = count * t.Cols;
        if (t.View is { } view)
        {
            var converted = Buffer(ref _page, t.Target.ByteCount(values));
            DTypeConvert.FromF32(t.Target, view.Rows(_reader, t.Source, row, count), converted);
            return converted;
        }
        var src = Buffer(ref _source, srcType.ByteCount(values));
        Read(t.Source, row * srcType.ByteCount(t.Cols), src);
        var dst = Buffer(ref _page, t.Target.ByteCount(values));
        DTypeConvert.Convert(srcType, src, t.Target, dst, checked((int)values));
        return dst;
    }

    /// <summary>Reads expert e of layer l's down matrix [Dim, ExpertHidden] whole.</summary>
    public void LoadExpert(int layer, int expert)
    {
        _expert = _plan.Experts[layer][expert];
        _types = _plan.LayerExpertTypes[layer] ?? throw new InvalidOperationException($"layer {layer} has no expert types planned");
        _neurons = _plan.NeuronOrder?.Neurons[layer][expert];
        var down = _expert.Down;
        var bytes = Buffer(ref _down, down.Rows * down.RowBytes);
        Read(down.Tensor, down.Offset, bytes);
    }

    /// <summary>Bundle b of the loaded expert: gate rows [r, Dim], up rows [r, Dim], down columns as [Dim, r], of its
    /// neurons b·R .. b·R + r − 1 in the plan's neuron order (as trained without one).</summary>
    public ReadOnlySpan<byte> Bundle(int bundle)
    {
        var dim = _plan.Hyper.Dim;
        var rowStart = (long)bundle * _plan.Geometry.BundleRows;
        var r = (int)Math.Min(_plan.Geometry.BundleRows, _plan.Hyper.ExpertHidden - rowStart);
        var rowsBytes = _types.GateUp.ByteCount((long)r * dim);
        var page = Buffer(ref _page, checked((int)ExpertGridEntry.BundleBytes(_types.GateUp, _types.Down, dim, r)));

        RowsSection(_expert.Gate, rowStart, r, page[..(int)rowsBytes]);
        RowsSection(_expert.Up, rowStart, r, page.Slice((int)rowsBytes, (int)rowsBytes));
        DownSection(rowStart, r, page[(int)(2 * rowsBytes)..]);
        return page;
    }

    private void RowsSection(ExpertMatrix m, long rowStart, int rows, Span<byte> dst)
    {
        var src = Buffer(ref _source, rows * m.RowBytes);
        if (_neurons is null) Read(m.Tensor, m.Offset + rowStart * m.RowBytes, src);
        else
            for (var i = 0; i < rows; i++)
                Read(m.Tensor, m.Offset + _neurons[rowStart + i] * m.RowBytes, src.Slice((int)(i * m.RowBytes), (int)m.RowBytes));
        DTypeConvert.Convert(m.Type, src, _types.GateUp, dst, checked((int)(rows * m.Cols)));
    }

    private void DownSection(long colStart, int cols, Span<byte> dst)
    {
        var down = _expert.Down;
        var sliceBytes = (int)down.Type.ByteCount(cols);
        var src = Buffer(ref _source, down.Rows * sliceBytes);
        for (var i = 0; i < down.Rows; i++)
        {
            var row = _down.AsSpan((int)(i * down.RowBytes), (int)down.RowBytes);
            var to = src.Slice(i * sliceBytes, sliceBytes);
            if (_neurons is null) row.Slice((int)down.Type.ByteCount(colStart), sliceBytes).CopyTo(to);
            else // an element type (the planner refuses block types): one column's value at a time
            {
                var width = (int)down.Type.ByteCount(1);
                for (var c = 0; c < cols; c++) row.Slice(_neurons[colStart + c] * width, width).CopyTo(to.Slice(c * width, width));
            }
        }
        DTypeConvert.Convert(down.Type, src, _types.Down, dst, checked((int)(down.Rows * cols)));
    }

    /// <summary>Reads source bytes and refuses a block whose scale is NaN or infinite: every value it decodes to would
    /// be garbage that poisons the activations, so the conversion stops before anything is published.</summary>
    private void Read(SourceTensor tensor, long offset, Span<byte> dst)
    {
        _reader.Read(tensor, offset, dst);
        var bad = tensor.DType.FirstNonFiniteScale(dst);
        if (bad < 0) return;
        var blockBytes = tensor.DType.Layout().BlockBytes;
        throw new Vib3Exception(SqlState.DataCorrupted,
            $"{tensor.FilePath}: tensor '{UntrustedText.Shown(tensor.Name)}' ({tensor.DType.Name()}) has a NaN or infinite scale in block {offset / blockBytes + bad} " +
            $"(bytes {offset + bad * blockBytes} to {offset + (bad + 1) * blockBytes} of its data)");
    }

    private static Span<byte> Buffer(ref byte[] buffer, long bytes)
    {
        if (buffer.Length < bytes) buffer = new byte[checked((int)bytes)];
        return buffer.AsSpan(0, (int)bytes);
    }
}
