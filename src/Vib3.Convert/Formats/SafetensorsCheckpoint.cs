using System.Buffers.Binary;
using System.Text.Json;
using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Convert.Formats;

/// <summary>A Hugging Face safetensors checkpoint: one file, all *.safetensors of a folder, or shards named by
/// model.safetensors.index.json. Each file: u64 LE header length N, N bytes of JSON
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then data from byte 8 + N.</summary>
public sealed class SafetensorsCheckpoint : ICheckpointReader
{
    /// <summary>Headers above this are refused as corrupt (real ones are a few MB at most).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    public const string IndexFileName = "model.safetensors.index.json";

    private readonly PositionalFiles _files;

    private SafetensorsCheckpoint(string path, PositionalFiles files, IReadOnlyList<string> paths,
        Dictionary<string, SourceTensor> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _files = files;
        Files = paths;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }
    public string Format => "safetensors";
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    /// <summary>The safetensors files read, in order.</summary>
    public IReadOnlyList<string> Files { get; }

    /// <summary>The "__metadata__" entries of all files (later files win on clashes).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public void Read(SourceTensor t, long offsetInTensor, Span<byte> destination)
    {
        if (t.Float8)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{t.FilePath}: tensor '{UntrustedText.Shown(t.Name)}' is float8 e4m3, which is read dequantised with its block scales " +
                $"({nameof(Fp8DequantisingCheckpoint)}), not as plain values");
        _files.Read(t, offsetInTensor, destination);
    }

    /// <summary>The file's bytes of <paramref name="t"/> as they are (for float8: one code a value).</summary>
    internal void ReadStored(SourceTensor t, long offsetInTensor, Span<byte> destination) => _files.Read(t, offsetInTensor, destination);

    public void Dispose() => _files.Dispose();

    /// <summary>Opens a folder (sharded via index.json, model.safetensors, or every *.safetensors) or a single
    /// .safetensors file.</summary>
    public static SafetensorsCheckpoint Open(string folder)
    {
        if (File.Exists(folder) && folder.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return OpenFiles(folder, [System.IO.Path.GetFullPath(folder)], null);
        if (!Directory.Exists(folder))
            throw new Vib3Exception(SqlState.UndefinedObject, $"{folder}: no such directory");
        var index = System.IO.Path.Combine(folder, IndexFileName);
        if (File.Exists(index))
            return OpenIndexed(folder, index);
        var single = System.IO.Path.Combine(folder, "model.safetensors");
        if (File.Exists(single))
            return OpenFiles(folder, [System.IO.Path.GetFullPath(single)], null);
        var all = Directory.EnumerateFiles(folder, "*.safetensors").Select(System.IO.Path.GetFullPath)
            .Order(StringComparer.Ordinal).ToList();
        if (all.Count == 0)
            throw new Vib3Exception(SqlState.UndefinedObject, $"{folder}: no .safetensors files (and no {IndexFileName})");
        return OpenFiles(folder, all, null);
    }

    private static SafetensorsCheckpoint OpenIndexed(string folder, string index)
    {
        Dictionary<string, string> weightMap;
        {
            using var doc = UntrustedJson.Read(index, ModelFileLimits.SafetensorsIndexBytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object ||
                !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw Bad($"{index}: no \"weight_map\" object");
            weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw Bad($"{index}: weight_map entry '{UntrustedText.Shown(p.Name)}' is not a file name");
                var shard = p.Value.GetString()!;
                if (shard.Length == 0 || System.IO.Path.GetFileName(shard) != shard)
                    throw Bad($"{index}: weight_map entry '{UntrustedText.Shown(p.Name)}' names '{UntrustedText.Shown(shard)}', which is not a plain file name");
                weightMap[p.Name] = shard;
            }
        }
        if (weightMap.Count == 0)
            throw Bad($"{index}: weight_map is empty");
        var shards = weightMap.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        foreach (var shard in shards)
        {
            var p = System.IO.Path.Combine(folder, shard);
            if (!File.Exists(p))
                throw new Vib3Exception(SqlState.UndefinedObject,
                    $"{index}: names shard '{UntrustedText.Shown(shard)}', which does not exist in {folder}");
        }
        var full = shards.Select(s => System.IO.Path.GetFullPath(System.IO.Path.Combine(folder, s))).ToList();
        return OpenFiles(folder, full, (index, weightMap));
    }

    private static SafetensorsCheckpoint OpenFiles(string path, List<string> files,
        (string Index, Dictionary<string, string> Map)? index)
    {
        var handles = new PositionalFiles();
        try
        {
            var tensors = new Dictionary<string, SourceTensor>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in files)
            {
                foreach (var t in ParseFile(file, handles, metadata))
                {
                    if (tensors.TryGetValue(t.Name, out var other))
                        throw Bad($"{file}: tensor '{UntrustedText.Shown(t.Name)}' is also in {other.FilePath}");
                    tensors.Add(t.Name, t);
                }
            }
            if (index is { } ix)
            {
                foreach (var (name, shard) in ix.Map)
                {
                    if (!tensors.TryGetValue(name, out var t) ||
                        !string.Equals(System.IO.Path.GetFileName(t.FilePath), shard, StringComparison.Ordinal))
                        throw Bad($"{ix.Index}: tensor '{UntrustedText.Shown(name)}' is mapped to '{UntrustedText.Shown(shard)}', but that file has no such tensor");
                }
            }
            return new SafetensorsCheckpoint(path, handles, files, tensors, metadata);
        }
        catch
        {
            handles.Dispose();
            throw;
        }
    }

    private static List<SourceTensor> ParseFile(string file, PositionalFiles handles, Dictionary<string, string> metadata)
    {
        var h = handles.Open(file);
        var length = RandomAccess.GetLength(h);
        if (length < 8)
            throw Bad($"{file}: {length} bytes is too short for a safetensors file (needs an 8-byte header length)");
        Span<byte> lenBytes = stackalloc byte[8];
        if (!PositionalFiles.TryReadExactly(h, 0, lenBytes))
            throw Bad($"{file}: cannot read the header length");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        // The length is never shown: the file may be no safetensors file at all (a symlink to a secret), and its
        // first eight bytes are not to be echoed back.
        if (headerLength > MaxHeaderBytes)
            throw Bad($"{file}: the header length is more than the {MaxHeaderBytes}-byte limit; not a safetensors file?");
        if (8 + (long)headerLength > length)
            throw Bad($"{file}: the header length runs past the end of the file ({length} bytes); truncated, or not a safetensors file?");
        var header = new byte[headerLength];
        if (!PositionalFiles.TryReadExactly(h, 8, header))
            throw Bad($"{file}: the file ended while its header was read");
        var dataStart = 8 + (long)headerLength;
        var dataLength = length - dataStart;

        var doc = UntrustedJson.Parse($"{file}: header", header);
        var result = new List<SourceTensor>();
        var ranges = new List<(long Begin, long End, string Name)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad($"{file}: header is JSON but not an object");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                    throw Bad($"{file}: tensor '{UntrustedText.Shown(p.Name)}' appears twice in the header");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                        throw Bad($"{file}: __metadata__ is not an object");
                    foreach (var m in p.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                var t = ParseTensor(file, p, dataStart, dataLength);
                result.Add(t);
                ranges.Add((t.DataOffset - dataStart, t.DataOffset - dataStart + t.ByteLength, t.Name));
            }
        }
        ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        for (int i = 1, prev = 0; i < ranges.Count; i++)
        {
            if (ranges[i].Begin == ranges[i].End) continue;
            if (ranges[prev].End > ranges[i].Begin)
                throw Bad($"{file}: tensors '{UntrustedText.Shown(ranges[prev].Name)}' [{ranges[prev].Begin}, {ranges[prev].End}) and " +
                          $"'{UntrustedText.Shown(ranges[i].Name)}' [{ranges[i].Begin}, {ranges[i].End}) overlap");
            prev = i;
        }
        return result;
    }

    private static SourceTensor ParseTensor(string file, JsonProperty p, long dataStart, long dataLength)
    {
        var name = p.Name;
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' is not an object in the header");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has no dtype");
        var dtypeName = dt.GetString()!;
        var float8 = dtypeName == "F8_E4M3";
        DType dtype = dtypeName switch
        {
            "F32" => DType.F32,
            "F16" => DType.F16,
            "BF16" => DType.BF16,
            "F8_E4M3" => DType.F32, // what its dequantised reads deliver
            _ => throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{file}: tensor '{UntrustedText.Shown(name)}' has dtype {dtypeName}, which vib3 does not read (supported: F32, F16, BF16, and F8_E4M3 with block scales)"),
        };
        var bytesPerValue = float8 ? 1 : dtype.ByteCount(1);
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has no shape array");
        var shape = new long[sh.GetArrayLength()];
        var i = 0;
        long count = 1;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var n) || n < 0)
                throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has a shape entry that is not a non-negative integer ({UntrustedText.Shown(d.GetRawText())})");
            shape[i++] = n;
            try
            {
                count = checked(count * n);
            }
            catch (OverflowException)
            {
                throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' shape {UntrustedText.Shown(sh.GetRawText())} overflows");
            }
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has no data_offsets [begin, end]");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out var begin) || !off[1].TryGetInt64(out var end) || begin < 0 || end < 0)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has data_offsets {UntrustedText.Shown(off.GetRawText())} that are not non-negative integers");
        if (begin > end)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has data_offsets [{begin}, {end}] out of order (begin after end)");
        if (end > dataLength)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' ends at data byte {end}, past the end of the file " +
                      $"(data section is {dataLength} bytes); truncated?");
        long expected;
        try
        {
            expected = checked(count * bytesPerValue);
        }
        catch (OverflowException)
        {
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' shape {UntrustedText.Shown(sh.GetRawText())} overflows");
        }
        if (end - begin != expected)
            throw Bad($"{file}: tensor '{UntrustedText.Shown(name)}' has {end - begin} bytes, but shape {UntrustedText.Shown(sh.GetRawText())} of {dtypeName} needs {expected}");
        return new SourceTensor(name, dtype, shape, file, dataStart + begin, end - begin) { Float8 = float8 };
    }

    private static Vib3Exception Bad(string message) => new(SqlState.InvalidParameterValue, message);
}
