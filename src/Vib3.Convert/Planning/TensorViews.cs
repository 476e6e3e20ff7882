using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>Stored rows that are not a plain copy of source rows: the source holds the same weights in another layout,
/// and the view reads the rows the store wants, as f32, whatever the source's element type.</summary>
public abstract class TensorView
{
    /// <summary>The source tensor's row-major shape the view expects.</summary>
    public abstract long[] SourceShape { get; }

    /// <summary>The same shape as a formula, for error messages.</summary>
    public abstract string SourceFormula { get; }

    /// <summary>Stored rows [row, row+count), each the stored tensor's row length, as f32 (a buffer reused by the next call).</summary>
    public abstract ReadOnlySpan<float> Rows(ICheckpointReader reader, SourceTensor source, long row, long count);
}

/// <summary>The views descriptors name (<c>hfView</c>, <c>ggufAlternativeView</c>).</summary>
public static class TensorViews
{
    public static TensorView? Parse(string? name, HyperParameters h) => name switch
    {
        null => null,
        "kvbKeys" => new KvbView(h, keys: true),
        "kvbValues" => new KvbView(h, keys: false),
        _ => throw new Vib3Exception(SqlState.DataCorrupted, $"descriptor names an unknown tensor view '{name}'"),
    };
}

/// <summary>Multi-head latent attention's key/value decompression kv_b [H·(N+V), L] (HF kv_b_proj, older GGUFs'
/// attn_kv_b: per head h, N key rows then V value rows, each over the latent L) in the split form vib3 stores
/// (newer GGUFs' attn_k_b / attn_v_b): keys [H·L, N] = per head the N key rows transposed, so that the absorbed
/// query q_lat[h] = k_b[h] · q_nope[h] is a plain matrix-vector product; values [H·V, L] = per head the V value rows.</summary>
internal sealed class KvbView : TensorView
{
    private readonly int _heads, _nope, _v, _rank;
    private readonly bool _keys;
    private byte[] _raw = [];      // one head's source rows, source type
    private float[] _block = [];   // [rows, L] one head's source rows as f32
    private float[] _rows = [];    // [count, stored row length] the result

    public KvbView(HyperParameters h, bool keys)
    {
        (_heads, _nope, _v, _rank, _keys) = (h.Heads, h.QkNopeHeadDim, h.VHeadDim, h.KvLoraRank, keys);
    }

    public override long[] SourceShape => [(long)_heads * (_nope + _v), _rank];

    public override string SourceFormula => "heads*(qkNopeHeadDim+vHeadDim), kvLoraRank";

    public override ReadOnlySpan<float> Rows(ICheckpointReader reader, SourceTensor source, long row, long count)
    {
        var perHead = _keys ? _rank : _v;     // stored rows per head
        var width = _keys ? _nope : _rank;    // stored row length
        if (_rows.Length < count * width) _rows = new float[count * width];
        for (var r = row; r < row + count;)
        {
            var head = (int)(r / perHead);
            var first = (int)(r % perHead);
            var take = (int)Math.Min(perHead - first, row + count - r);
            var dst = _rows.AsSpan((int)((r - row) * width), take * width);
            if (_keys)
            {
                var block = HeadRows(reader, source, head, 0, _nope);          // [N, L]
                for (var i = 0; i < take; i++)
                    for (var n = 0; n < _nope; n++)
                        dst[i * _nope + n] = block[n * _rank + first + i];    // keys[h, l, n] = kv_b[h, n, l]
            }
            else
            {
                HeadRows(reader, source, head, _nope + first, take).CopyTo(dst); // values[h, v, :] = kv_b[h, N + v, :]
            }
            r += take;
        }
        return _rows.AsSpan(0, (int)(count * width));
    }

    /// <summary>Source rows [h·(N+V) + start, + count) as f32 [count, L].</summary>
    private ReadOnlySpan<float> HeadRows(ICheckpointReader reader, SourceTensor source, int head, int start, int count)
    {
        var rowBytes = source.DType.ByteCount(_rank);
        var bytes = checked((int)(count * rowBytes));
        if (_raw.Length < bytes) _raw = new byte[bytes];
        reader.Read(source, ((long)head * (_nope + _v) + start) * rowBytes, _raw.AsSpan(0, bytes));
        if (_block.Length < count * _rank) _block = new float[count * _rank];
        DTypeConvert.ToF32(source.DType, _raw.AsSpan(0, bytes), _block.AsSpan(0, count * _rank));
        return _block.AsSpan(0, count * _rank);
    }
}
