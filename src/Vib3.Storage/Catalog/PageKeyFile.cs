using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>How a bundle page's key is computed from its weights (see Vib3.Models.Retrieval.PageKeys).</summary>
public enum PageKeyKind
{
    /// <summary>Mean of the bundle's L2-normalised W_gate rows.</summary>
    MeanGate = 0,
    /// <summary>Top right singular vector of the bundle's W_gate rows (sign: positive mean dot with the rows).</summary>
    SvdGate = 1,
    /// <summary>Mean of the normalised W_gate rows, each signed by its W_up row's agreement with it (gate·up).</summary>
    GateUp = 2,
}

/// <summary>How a query is scored against the keys.</summary>
public enum PageKeyMetric
{
    InnerProduct = 0,
    Cosine = 1,
}

/// <summary>One MoE layer's page keys as stored: header fields plus the [pages, dims] f32 matrix (row i = the layer's
/// i-th bundle page, i = expert · bundlesPerExpert + bundle, i.e. page grid.FirstPage + i).</summary>
public sealed record PageKeyLayer(int Layer, int Pages, int Dims, PageKeyKind Kind, PageKeyMetric Metric, float[] Keys)
{
    public static string KindName(PageKeyKind k) => k switch
    {
        PageKeyKind.MeanGate => "mean_gate",
        PageKeyKind.SvdGate => "svd_gate",
        PageKeyKind.GateUp => "gate_up",
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    public static string MetricName(PageKeyMetric m) => m == PageKeyMetric.Cosine ? "cosine" : "ip";
}

/// <summary>The binary file of one layer's keys, &lt;model&gt;/index/layer-LLL.keys (little-endian):
/// <code>
///   0  8  magic "VIB3KEYS"
///   8  4  format version (1)
///  12  4  layer
///  16  4  pages P
///  20  4  dims D
///  24  4  key construction (PageKeyKind)
///  28  4  metric (PageKeyMetric)
///  32  P·D·4  keys, f32 [P, D]
///  end 8  XxHash64 (seed 0) of every byte before it
/// </code>
/// An approximate (HNSW) index of the layer is meant to sit beside it as layer-LLL.hnsw, built from these keys.
/// Any mismatch (size, magic, version, checksum) is DataCorrupted naming the file: a stale or torn index must never
/// route tokens.</summary>
public static class PageKeyFile
{
    public const int FormatVersion = 1;
    public const int HeaderBytes = 32;
    private static ReadOnlySpan<byte> Magic => "VIB3KEYS"u8;

    public static string FileName(int layer) => $"layer-{layer:D3}.keys";

    /// <summary>Writes the file and fsyncs it (the caller publishes the folder it lies in with one rename).</summary>
    public static void Write(string path, PageKeyLayer k)
    {
        if (k.Keys.Length != (long)k.Pages * k.Dims)
            throw new ArgumentException($"{k.Keys.Length} key values are not [{k.Pages}, {k.Dims}]", nameof(k));
        var bytes = new byte[HeaderBytes + k.Keys.Length * 4 + 8];
        Magic.CopyTo(bytes);
        var h = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], k.Layer);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], k.Pages);
        BinaryPrimitives.WriteInt32LittleEndian(h[20..], k.Dims);
        BinaryPrimitives.WriteInt32LittleEndian(h[24..], (int)k.Kind);
        BinaryPrimitives.WriteInt32LittleEndian(h[28..], (int)k.Metric);
        var body = MemoryMarshal.AsBytes(k.Keys.AsSpan());
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("page key files are little-endian");
        body.CopyTo(h[HeaderBytes..]);
        SealedFile.Write(path, bytes);
    }

    /// <summary>The header only (for vib3_indexes and the planner): no keys read, no checksum verified.</summary>
    public static PageKeyLayer ReadHeader(string path)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        if (!SealedFile.TryReadHeader(path, h)) throw Corrupt(path, "shorter than its header");
        return ParseHeader(path, h, keys: []);
    }

    /// <summary>The whole file, checksum verified.</summary>
    public static PageKeyLayer Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderBytes + 8) throw Corrupt(path, "shorter than its header");
        var header = ParseHeader(path, bytes.AsSpan(0, HeaderBytes), keys: []);
        var expected = HeaderBytes + (long)header.Pages * header.Dims * 4 + 8;
        if (bytes.Length != expected) throw Corrupt(path, $"{bytes.Length} bytes where its header implies {expected}");
        if (!SealedFile.Intact(bytes)) throw Corrupt(path, "checksum mismatch");
        var keys = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(HeaderBytes, header.Pages * header.Dims * 4)).ToArray();
        return header with { Keys = keys };
    }

    private static PageKeyLayer ParseHeader(string path, ReadOnlySpan<byte> h, float[] keys)
    {
        if (!h[..8].SequenceEqual(Magic)) throw Corrupt(path, "not a vib3 page key file (bad magic)");
        var version = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        if (version != FormatVersion) throw Corrupt(path, $"format version {version}, this vib3 reads {FormatVersion}");
        var (layer, pages, dims) = (BinaryPrimitives.ReadInt32LittleEndian(h[12..]), BinaryPrimitives.ReadInt32LittleEndian(h[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(h[20..]));
        var (kind, metric) = (BinaryPrimitives.ReadInt32LittleEndian(h[24..]), BinaryPrimitives.ReadInt32LittleEndian(h[28..]));
        if (layer < 0 || pages <= 0 || dims <= 0 || !Enum.IsDefined((PageKeyKind)kind) || !Enum.IsDefined((PageKeyMetric)metric))
            throw Corrupt(path, $"header out of range (layer {layer}, pages {pages}, dims {dims}, keys {kind}, metric {metric})");
        return new PageKeyLayer(layer, pages, dims, (PageKeyKind)kind, (PageKeyMetric)metric, keys);
    }

    private static Vib3Exception Corrupt(string path, string why) =>
        new(SqlState.DataCorrupted, $"page index file {path} is corrupt: {why} (rebuild it with CREATE INDEX ON MODEL)");
}
