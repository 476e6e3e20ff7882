using System.Text.Json;
using Vib3.Core;

namespace Vib3.Synth;

/// <summary>Writes a safetensors checkpoint: tensors are declared up front (name, dtype, shape, a producer
/// that streams the bytes), then <see cref="Write"/> lays out one file or N shards plus
/// model.safetensors.index.json. Data is streamed; nothing is held in memory beyond what a producer holds.</summary>
public sealed class SafetensorsWriter
{
    /// <param name="DType">The safetensors dtype name (F32, BF16, F8_E4M3, ...).</param>
    private sealed record Entry(string Name, string DType, long[] Shape, long ByteLength, Action<Stream> WriteData);

    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal) { ["format"] = "pt" };

    public int Count => _entries.Count;

    public void AddMetadata(string key, string value) => _metadata[key] = value;

    public void Add(string name, DType dtype, long[] shape, Action<Stream> writeData)
    {
        if (dtype == DType.Q8_0)
            throw new Vib3Exception(SqlState.FeatureNotSupported, $"safetensors cannot hold q8_0 tensors ('{name}')");
        Add(name, DTypeName(dtype), dtype.ByteCount(1), shape, writeData);
    }

    public void Add(string name, DType dtype, long[] shape, ReadOnlyMemory<byte> data) =>
        Add(name, dtype, shape, s => s.Write(data.Span));

    /// <summary>A float8 e4m3 tensor: <paramref name="writeData"/> writes one code a value.</summary>
    public void AddFloat8(string name, long[] shape, Action<Stream> writeData) => Add(name, "F8_E4M3", 1, shape, writeData);

    private void Add(string name, string dtype, long bytesPerValue, long[] shape, Action<Stream> writeData)
    {
        if (!_names.Add(name))
            throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}' has a negative dimension", nameof(shape));
            count = checked(count * d);
        }
        _entries.Add(new Entry(name, dtype, (long[])shape.Clone(), count * bytesPerValue, writeData));
    }

    public static string DTypeName(DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        _ => throw new Vib3Exception(SqlState.FeatureNotSupported, $"safetensors has no dtype for {t.Name()}"),
    };

    /// <summary>Writes the checkpoint into <paramref name="folder"/> (created if needed). One shard gives
    /// model.safetensors; more give model-0000i-of-0000N.safetensors and model.safetensors.index.json.
    /// Returns the paths written.</summary>
    public IReadOnlyList<string> Write(string folder, int shards = 1)
    {
        if (shards < 1) throw new ArgumentOutOfRangeException(nameof(shards));
        Directory.CreateDirectory(folder);
        var groups = Split(Math.Min(shards, Math.Max(1, _entries.Count)));
        var written = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < groups.Count; i++)
        {
            var fileName = groups.Count == 1 ? "model.safetensors" : $"model-{i + 1:D5}-of-{groups.Count:D5}.safetensors";
            var path = Path.Combine(folder, fileName);
            WriteFile(path, groups[i]);
            written.Add(path);
            foreach (var e in groups[i]) weightMap[e.Name] = fileName;
        }
        if (groups.Count > 1)
        {
            var indexPath = Path.Combine(folder, "model.safetensors.index.json");
            using (var fs = File.Create(indexPath))
            using (var w = new Utf8JsonWriter(fs, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteStartObject("metadata");
                w.WriteNumber("total_size", _entries.Sum(e => e.ByteLength));
                w.WriteEndObject();
                w.WriteStartObject("weight_map");
                foreach (var (k, v) in weightMap) w.WriteString(k, v);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            written.Add(indexPath);
        }
        return written;
    }

    private List<List<Entry>> Split(int shards)
    {
        var total = Math.Max(1, _entries.Sum(e => e.ByteLength));
        var groups = new List<Entry>[shards];
        for (var i = 0; i < shards; i++) groups[i] = [];
        long start = 0;
        foreach (var e in _entries)
        {
            var g = (int)Math.Min(shards - 1, (decimal)start * shards / total);
            groups[g].Add(e);
            start += e.ByteLength;
        }
        return groups.Where(g => g.Count > 0).ToList();
    }

    private void WriteFile(string path, List<Entry> entries)
    {
        var header = BuildHeader(entries);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> len = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        fs.Write(len);
        fs.Write(header);
        foreach (var e in entries)
            CountingStream.Run(fs, $"{path}: tensor '{e.Name}'", e.ByteLength, e.WriteData);
    }

    private byte[] BuildHeader(List<Entry> entries)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            foreach (var (k, v) in _metadata) w.WriteString(k, v);
            w.WriteEndObject();
            long offset = 0;
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType);
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.ByteLength;
            }
            w.WriteEndObject();
        }
        // Pad with spaces so data starts 8-byte aligned, as the reference implementation does.
        var bytes = ms.ToArray();
        var padded = (bytes.Length + 7) / 8 * 8;
        if (padded == bytes.Length) return bytes;
        var result = new byte[padded];
        bytes.CopyTo(result, 0);
        result.AsSpan(bytes.Length).Fill((byte)' ');
        return result;
    }
}
