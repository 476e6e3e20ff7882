using System.Buffers;
using System.Runtime.InteropServices;
using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>A safetensors checkpoint whose float8 weights read as f32, every value dequantised with its block's scale
/// while it is read (the f32 product e4m3 · scale, what DeepSeek-V3's own weight_dequant computes), so everything
/// downstream (row copies, the kv_b view, experts' strided down columns) sees plain values. Each float8 weight's
/// "X_scale_inv" is consumed: it is not among <see cref="Tensors"/>. Nothing is cached: a read fetches the codes it
/// covers and the scale rows of their blocks (one float per block), so memory stays the caller's buffer.</summary>
public sealed class Fp8DequantisingCheckpoint : ICheckpointReader
{
    private readonly SafetensorsCheckpoint _inner;
    private readonly Fp8BlockScaling _scaling;
    private readonly Dictionary<string, SourceTensor> _scales; // float8 weight name → its scale grid

    private Fp8DequantisingCheckpoint(
        SafetensorsCheckpoint inner, Fp8BlockScaling scaling, Dictionary<string, SourceTensor> scales, Dictionary<string, SourceTensor> tensors)
    {
        _inner = inner;
        _scaling = scaling;
        _scales = scales;
        Tensors = tensors;
    }

    public string Path => _inner.Path;
    public string Format => _inner.Format;
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    /// <summary>The checkpoint itself when it holds no float8 tensors; otherwise it wrapped, each float8 weight paired
    /// with its scale grid (a missing or misshapen grid is an error naming the weight). <paramref name="scaling"/> is
    /// config.json's quantization_config; the wrapper does not own <paramref name="reader"/>.</summary>
    public static ICheckpointReader Wrap(ICheckpointReader reader, Fp8BlockScaling? scaling)
    {
        var float8 = reader.Tensors.Values.Where(t => t.Float8).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        if (float8.Count == 0) return reader;
        if (scaling is null)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{reader.Path}: tensor '{float8[0].Name}' is float8 e4m3, but config.json has no quantization_config " +
                "{\"quant_method\": \"fp8\", \"weight_block_size\": [r, c]} saying how its scales apply");
        var safetensors = (SafetensorsCheckpoint)reader; // only safetensors has float8 tensors
        var scales = new Dictionary<string, SourceTensor>(StringComparer.Ordinal);
        foreach (var w in float8)
            scales.Add(w.Name, ScaleOf(reader, w, scaling));
        var consumed = scales.Values.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var tensors = reader.Tensors.Where(p => !consumed.Contains(p.Key)).ToDictionary(StringComparer.Ordinal);
        return new Fp8DequantisingCheckpoint(safetensors, scaling, scales, tensors);
    }

    private static SourceTensor ScaleOf(ICheckpointReader reader, SourceTensor weight, Fp8BlockScaling scaling)
    {
        if (weight.Shape.Length != 2)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{weight.FilePath}: float8 tensor '{weight.Name}' has shape {weight.ShapeText}; block scales apply to matrices only");
        var name = weight.Name + Fp8BlockScaling.ScaleSuffix;
        if (!reader.Tensors.TryGetValue(name, out var scale))
            throw new Vib3Exception(SqlState.UndefinedObject,
                $"{reader.Path}: float8 tensor '{weight.Name}' has no block scales '{name}'");
        var expected = scaling.ScaleShape(weight.Shape[0], weight.Shape[1]);
        if (scale.Float8 || !scale.Shape.SequenceEqual(expected))
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{scale.FilePath}: block scales '{name}' are {scale.TypeName} {scale.ShapeText}, but float8 tensor '{weight.Name}' " +
                $"{weight.ShapeText} in {scaling.BlockRows}×{scaling.BlockCols} blocks needs a float grid [{string.Join(", ", expected)}]");
        return scale;
    }

    /// <summary>For a float8 tensor the offset and length count f32 bytes of the dequantised values.</summary>
    public void Read(SourceTensor t, long offsetInTensor, Span<byte> destination)
    {
        if (!t.Float8)
        {
            _inner.Read(t, offsetInTensor, destination);
            return;
        }
        if (offsetInTensor % sizeof(float) != 0 || destination.Length % sizeof(float) != 0)
            throw new ArgumentException($"reads of float8 tensor '{t.Name}' deliver whole f32 values " +
                                        $"({destination.Length} bytes at {offsetInTensor})");
        var first = offsetInTensor / sizeof(float);
        var count = destination.Length / sizeof(float);
        if (count == 0) return;
        long cols = t.Shape[1], scaleCols = _scaling.ScaleShape(1, cols)[1];
        var firstBlockRow = first / cols / _scaling.BlockRows;
        var blockRows = (first + count - 1) / cols / _scaling.BlockRows - firstBlockRow + 1;

        var codes = ArrayPool<byte>.Shared.Rent(count);
        var scales = ArrayPool<float>.Shared.Rent(checked((int)(blockRows * scaleCols)));
        try
        {
            _inner.ReadStored(t, first, codes.AsSpan(0, count));
            ReadScales(_scales[t.Name], firstBlockRow * scaleCols, scales.AsSpan(0, (int)(blockRows * scaleCols)));
            var values = MemoryMarshal.Cast<byte, float>(destination);
            for (long i = first, end = first + count; i < end;)
            {
                var row = i / cols;
                var rowScales = scales.AsSpan((int)((row / _scaling.BlockRows - firstBlockRow) * scaleCols));
                var rowEnd = Math.Min(end, (row + 1) * cols);
                while (i < rowEnd) // one column block of this row at a time
                {
                    var col = i - row * cols;
                    var s = rowScales[(int)(col / _scaling.BlockCols)];
                    var blockEnd = Math.Min(rowEnd, i + _scaling.BlockCols - col % _scaling.BlockCols);
                    for (; i < blockEnd; i++)
                        values[(int)(i - first)] = Float8E4M3.ToFloat(codes[i - first]) * s;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(codes);
            ArrayPool<float>.Shared.Return(scales);
        }
    }

    /// <summary>Scale grid entries [first, first + dst.Length) as f32 (DeepSeek stores them f32; any float type reads).</summary>
    private void ReadScales(SourceTensor grid, long first, Span<float> dst)
    {
        var bytes = ArrayPool<byte>.Shared.Rent((int)grid.DType.ByteCount(dst.Length));
        try
        {
            var raw = bytes.AsSpan(0, (int)grid.DType.ByteCount(dst.Length));
            _inner.Read(grid, grid.DType.ByteCount(first), raw);
            DTypeConvert.ToF32(grid.DType, raw, dst);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>Nothing to release: whoever opened the wrapped checkpoint disposes it.</summary>
    public void Dispose()
    {
    }
}
