using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using Vib3.Core;

namespace Vib3.Index;

/*
 * HNSW index file, version 1. All integers and floats little-endian; no padding beyond what is listed.
 *
 * Header (40 bytes)
 *   off size  field        why
 *     0    8  magic        ASCII "VIB3HNSW": says what the file is before any other byte is trusted.
 *     8    4  version u32  1. A reader rejects versions it does not know rather than misreading a changed layout.
 *    12    4  metric u32   0 InnerProduct, 1 Cosine, 2 L2 (VectorMetric): the graph's links are only good for the
 *                          metric they were built with, so the metric travels with the graph.
 *    16    4  dims i32     1..65536, the length of every vector (and of a query).
 *    20    4  count i32    ≥ 0, number of vectors; ids are 0..count−1 in build order.
 *    24    4  M i32        2..1024 (HnswOptions.MaxM). Fixes the list strides below: 1 + 2M on layer 0, 1 + M above.
 *    28    4  maxLevel i32 top layer of the graph, −1 when count = 0, else 0..64.
 *    32    4  entry i32    the node every search starts from (a node on layer maxLevel), −1 when count = 0.
 *    36    4  reserved u32 0. Keeps the body 8-byte aligned; room for flags in a later version.
 *
 * Body
 *   f32[count, dims]       vectors, row-major. Under Cosine they are stored normalised (as searched), so a loaded
 *                          index scores exactly as the saved one did.
 *   i32[count]             level of each node (its top layer, 0..maxLevel).
 *   i32[count, 1 + 2M]     layer-0 neighbour lists: a link count n ≤ 2M, then n ids, then 2M − n zero slots. Fixed
 *                          size so a node's list is found by multiplication, and the array loads in one read.
 *   for each node with level L > 0, in id order:
 *     i32[L, 1 + M]        its lists on layers 1..L, same shape with n ≤ M.
 *
 * Trailer (8 bytes)
 *   u64                    XxHash64 (seed 0) of every byte before it, header included: a flipped bit anywhere is
 *                          reported as corruption rather than becoming a wrong link or a wrong score.
 *
 * Beyond the checksum, the reader checks every count and id against the header (a list on layer l may only name
 * nodes whose level is ≥ l), so even a file with a matching checksum cannot make a search index out of range.
 */

/// <summary>An HNSW file's header fields (see the format at the top of this file).</summary>
public readonly record struct HnswHeader(VectorMetric Metric, int Dimensions, int Count, int M, int MaxLevel, int EntryPoint);

/// <summary>Reads and writes the HNSW file format described at the top of this file.</summary>
internal static class HnswFormat
{
    public const uint Version = 1;
    public const int HeaderSize = 40;
    public const int MaxDimensions = 65536;

    /// <summary>Highest level a node may have: the builder caps the level draw here (reaching it would take about
    /// M^64 nodes), and the reader rejects anything above.</summary>
    public const int MaxLevel = 64;

    private static ReadOnlySpan<byte> Magic => "VIB3HNSW"u8;

    public static void Write(HnswGraph graph, Stream stream)
    {
        RequireLittleEndian();
        var hash = new XxHash64();
        Span<byte> header = stackalloc byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)graph.Metric);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], graph.Dimensions);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], graph.Count);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], graph.M);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], graph.MaxLevel);
        BinaryPrimitives.WriteInt32LittleEndian(header[32..], graph.EntryPoint);
        BinaryPrimitives.WriteUInt32LittleEndian(header[36..], 0);
        Put(stream, hash, header);
        Put(stream, hash, MemoryMarshal.AsBytes(graph.Vectors.AsSpan()));
        Put(stream, hash, MemoryMarshal.AsBytes(graph.Levels.AsSpan()));
        Put(stream, hash, MemoryMarshal.AsBytes(graph.Layer0.AsSpan()));
        foreach (var lists in graph.Upper)
            if (lists is not null) Put(stream, hash, MemoryMarshal.AsBytes(lists.AsSpan()));
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(trailer, hash.GetCurrentHashAsUInt64());
        stream.Write(trailer);
    }

    private static void Put(Stream stream, XxHash64 hash, ReadOnlySpan<byte> bytes)
    {
        hash.Append(bytes);
        stream.Write(bytes);
    }

    /// <summary>Reads a graph; any inconsistency is a <see cref="Vib3Exception"/> with
    /// <see cref="SqlState.DataCorrupted"/> naming <paramref name="sourceName"/> and the field.</summary>
    public static HnswGraph Read(Stream stream, string sourceName)
    {
        RequireLittleEndian();
        if (!stream.CanSeek)
        {
            // Sizes are checked against the remaining length before anything is allocated, so that a corrupt count
            // cannot ask for gigabytes; that needs a length, hence a copy of a non-seekable source.
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        var hash = new XxHash64();
        Span<byte> header = stackalloc byte[HeaderSize];
        Take(stream, hash, header, sourceName, "header");
        var (metric, dimensions, count, m, maxLevel, entry) = ParseHeader(header, sourceName);

        var stride0 = 1 + 2 * m;
        var vectorCount = (long)count * dimensions;
        var fixedBytes = 4 * (vectorCount + count + (long)count * stride0) + 8;
        if (vectorCount > Array.MaxLength || (long)count * stride0 > Array.MaxLength || fixedBytes > stream.Length - stream.Position)
            throw Corrupt(sourceName, $"is truncated: count {count}, dims {dimensions} and M {m} need at least {fixedBytes} more bytes, there are {stream.Length - stream.Position}");

        var vectors = GC.AllocateUninitializedArray<float>((int)vectorCount, pinned: true);
        Take(stream, hash, MemoryMarshal.AsBytes(vectors.AsSpan()), sourceName, "vectors");
        var levels = new int[count];
        Take(stream, hash, MemoryMarshal.AsBytes(levels.AsSpan()), sourceName, "levels");
        var upperInts = 0L;
        for (var i = 0; i < count; i++)
        {
            if (levels[i] < 0 || levels[i] > maxLevel) throw Corrupt(sourceName, $"level of node {i} is {levels[i]}, not 0..maxLevel {maxLevel}");
            upperInts += (long)levels[i] * (1 + m);
        }
        if (count > 0 && levels[entry] != maxLevel)
            throw Corrupt(sourceName, $"entry point {entry} has level {levels[entry]}, not maxLevel {maxLevel}");
        var layer0 = new int[count * stride0];
        Take(stream, hash, MemoryMarshal.AsBytes(layer0.AsSpan()), sourceName, "layer-0 lists");
        if (4 * upperInts + 8 > stream.Length - stream.Position)
            throw Corrupt(sourceName, $"is truncated in the upper-layer lists ({4 * upperInts} bytes expected, {stream.Length - stream.Position - 8} there)");
        var upper = new int[]?[count];
        for (var i = 0; i < count; i++)
        {
            if (levels[i] == 0) continue;
            upper[i] = new int[levels[i] * (1 + m)];
            Take(stream, hash, MemoryMarshal.AsBytes(upper[i].AsSpan()), sourceName, "upper-layer lists");
        }
        Span<byte> trailer = stackalloc byte[8];
        Take(stream, null, trailer, sourceName, "checksum");
        var stored = BinaryPrimitives.ReadUInt64LittleEndian(trailer);
        var actual = hash.GetCurrentHashAsUInt64();
        if (stored != actual) throw Corrupt(sourceName, $"checksum (XxHash64) is {stored:x16}, the content hashes to {actual:x16}");

        for (var i = 0; i < count; i++)
        {
            CheckList(layer0, i * stride0, 2 * m, 0, levels, sourceName, i);
            for (var layer = 1; layer <= levels[i]; layer++) CheckList(upper[i]!, (layer - 1) * (1 + m), m, layer, levels, sourceName, i);
        }
        return new HnswGraph(metric, dimensions, count, m, vectors, levels, layer0, upper) { EntryPoint = entry, MaxLevel = maxLevel };
    }

    /// <summary>The header's fields, each checked (DataCorrupted naming <paramref name="sourceName"/> and the field).</summary>
    public static HnswHeader ParseHeader(ReadOnlySpan<byte> header, string sourceName)
    {
        if (!header[..8].SequenceEqual(Magic))
            throw Corrupt(sourceName, $"magic is \"{Encoding.ASCII.GetString(header[..8])}\", not \"VIB3HNSW\" (not an HNSW index file)");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != Version) throw Corrupt(sourceName, $"version is {version}; this reader knows version {Version}");
        var metricCode = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (metricCode > (uint)VectorMetric.L2) throw Corrupt(sourceName, $"metric is {metricCode}, not 0, 1 or 2");
        var metric = (VectorMetric)metricCode;
        var dimensions = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        if (dimensions is < 1 or > MaxDimensions) throw Corrupt(sourceName, $"dims is {dimensions}, not 1..{MaxDimensions}");
        var count = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        if (count < 0) throw Corrupt(sourceName, $"count is {count}");
        var m = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        if (m is < 2 or > HnswOptions.MaxM) throw Corrupt(sourceName, $"M is {m}, not 2..{HnswOptions.MaxM}");
        var maxLevel = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        var entry = BinaryPrimitives.ReadInt32LittleEndian(header[32..]);
        if (count == 0 ? maxLevel != -1 : maxLevel is < 0 or > MaxLevel)
            throw Corrupt(sourceName, $"maxLevel is {maxLevel} for {count} vectors");
        if (count == 0 ? entry != -1 : entry < 0 || entry >= count)
            throw Corrupt(sourceName, $"entry point is {entry} for {count} vectors");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header[36..]) != 0) throw Corrupt(sourceName, "reserved is not 0");
        return new HnswHeader(metric, dimensions, count, m, maxLevel, entry);

    }

    private static void CheckList(int[] list, int offset, int capacity, int layer, int[] levels, string sourceName, int node)
    {
        var n = list[offset];
        if (n < 0 || n > capacity) throw Corrupt(sourceName, $"neighbour list of node {node} on layer {layer} has {n} links, not 0..{capacity}");
        for (var j = 1; j <= n; j++)
        {
            var id = list[offset + j];
            if ((uint)id >= (uint)levels.Length || levels[id] < layer)
                throw Corrupt(sourceName, $"neighbour list of node {node} on layer {layer} links to {id}, not a node of that layer");
        }
    }

    private static void Take(Stream stream, XxHash64? hash, Span<byte> into, string sourceName, string field)
    {
        try
        {
            stream.ReadExactly(into);
        }
        catch (EndOfStreamException e)
        {
            throw Corrupt(sourceName, $"is truncated in the {field}", e);
        }
        hash?.Append(into);
    }

    private static Vib3Exception Corrupt(string sourceName, string what, Exception? inner = null) =>
        new(SqlState.DataCorrupted, $"HNSW index {sourceName}: {what}", inner);

    private static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("the HNSW file format is read and written as little-endian memory images");
    }
}
