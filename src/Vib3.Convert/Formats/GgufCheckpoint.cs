using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Convert.Formats;

/// <summary>A GGUF file (v3; v2 accepted): magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
/// metadata key/values, tensor infos (name, n_dims, ne[], ggml type, offset), then tensor data from the
/// info end rounded up to general.alignment (default 32). Tensor shapes are exposed numpy-order (ne reversed).</summary>
public sealed class GgufCheckpoint : ICheckpointReader
{
    public const uint DefaultAlignment = 32;

    /// <summary>The header (metadata and tensor infos) must end within this many bytes. Real headers are a few MiB
    /// (a 262 k token vocabulary with scores and types is ~7 MiB); the limit bounds what a file can make vib3
    /// allocate, since every count is checked against the bytes left before this point, not the file's size (a
    /// sparse file can claim terabytes).</summary>
    public const long MaxHeaderBytes = 64L << 20;
    public const int MaxDims = 4;
    private const int MaxArrayNesting = 8;

    private readonly PositionalFiles _files;

    private GgufCheckpoint(string path, PositionalFiles files, uint version, uint alignment, long dataStart,
        Dictionary<string, GgufValue> metadata, Dictionary<string, SourceTensor> tensors, List<string> order)
    {
        Path = path;
        _files = files;
        Version = version;
        Alignment = alignment;
        DataStart = dataStart;
        Metadata = metadata;
        Tensors = tensors;
        TensorOrder = order;
    }

    public string Path { get; }
    public string Format => "gguf";
    public uint Version { get; }
    public uint Alignment { get; }

    /// <summary>Absolute file offset of the data section.</summary>
    public long DataStart { get; }

    public IReadOnlyDictionary<string, GgufValue> Metadata { get; }
    public IReadOnlyDictionary<string, SourceTensor> Tensors { get; }

    /// <summary>Tensor names in file order.</summary>
    public IReadOnlyList<string> TensorOrder { get; }

    /// <summary>general.architecture, or null when absent.</summary>
    public string? Architecture => TryGetString("general.architecture", out var a) ? a : null;

    public void Read(SourceTensor t, long offsetInTensor, Span<byte> destination) => _files.Read(t, offsetInTensor, destination);

    public void Dispose() => _files.Dispose();

    // ---------------------------------------------------------------- metadata helpers

    public bool TryGet(string key, out GgufValue value) => Metadata.TryGetValue(key, out value!);

    public GgufValue Get(string key) => Metadata.TryGetValue(key, out var v)
        ? v
        : throw new Vib3Exception(SqlState.UndefinedObject, $"{Path}: metadata key '{UntrustedText.Shown(key)}' is missing");

    public ulong GetUInt(string key) => As(key, v => v.GetUInt());
    public long GetInt(string key) => As(key, v => v.GetInt());
    public double GetFloat(string key) => As(key, v => v.GetFloat());
    public bool GetBool(string key) => As(key, v => v.GetBool());
    public string GetString(string key) => As(key, v => v.GetString());
    public string[] GetStringArray(string key) => As(key, v => v.GetStringArray());
    public float[] GetFloatArray(string key) => As(key, v => v.GetFloatArray());
    public long[] GetIntArray(string key) => As(key, v => v.GetIntArray());

    public bool TryGetUInt(string key, out ulong value) => TryAs(key, v => v.GetUInt(), out value);
    public bool TryGetString(string key, out string value) => TryAs(key, v => v.GetString(), out value!);

    /// <summary>False when the key is absent; a key present with the wrong type is an error, not a miss.</summary>
    private bool TryAs<T>(string key, Func<GgufValue, T> get, out T value)
    {
        if (!Metadata.ContainsKey(key))
        {
            value = default!;
            return false;
        }
        value = As(key, get);
        return true;
    }

    private T As<T>(string key, Func<GgufValue, T> get)
    {
        var v = Get(key);
        try
        {
            return get(v);
        }
        catch (InvalidCastException e)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{Path}: metadata '{UntrustedText.Shown(key)}': {e.Message}");
        }
    }

    // ---------------------------------------------------------------- parsing

    public static GgufCheckpoint Open(string file)
    {
        if (!File.Exists(file))
            throw new Vib3Exception(SqlState.UndefinedObject,
                Directory.Exists(file) ? $"{file}: is a directory, not a GGUF file" : $"{file}: no such file or directory");
        var full = System.IO.Path.GetFullPath(file);
        var files = new PositionalFiles();
        try
        {
            return Parse(file, full, files);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            files.Dispose();
            throw new Vib3Exception(SqlState.IoError, $"{full}: cannot read ({e.Message})", e);
        }
        catch
        {
            files.Dispose();
            throw;
        }
    }

    private static GgufCheckpoint Parse(string shownPath, string full, PositionalFiles files)
    {
        using var r = new GgufHeaderReader(full, MaxHeaderBytes);
        if (r.Length < 4)
            throw r.Bad($"{r.Length} bytes is too short to be a GGUF file");
        var magic = r.ReadBytes(4, "the magic");
        if (!magic.AsSpan().SequenceEqual("GGUF"u8)) // what it starts with is not shown: the file may be a secret
            throw r.Bad("not a GGUF file: it does not start with \"GGUF\"");
        var version = r.U32("the version");
        if (version is not (2 or 3))
        {
            var swapped = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version);
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{full}: GGUF version {version} is not supported (supported: 2, 3)" +
                (swapped is 2 or 3 ? "; it looks like a big-endian GGUF" : ""));
        }
        var tensorCount = r.U64("the tensor count");
        var kvCount = r.U64("the metadata count");
        // Smallest possible entries: kv = key length (8) + type (4) + 1 byte; tensor info = 8 + 4 + 8 + 4 + 8.
        if (kvCount > (ulong)r.Remaining / 13)
            throw r.Bad($"header claims {kvCount} metadata entries, impossible in a header of at most {r.HeaderLimit} bytes");
        if (tensorCount > (ulong)r.Remaining / 32)
            throw r.Bad($"header claims {tensorCount} tensors, impossible in a header of at most {r.HeaderLimit} bytes");

        var metadata = new Dictionary<string, GgufValue>(StringComparer.Ordinal);
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = r.String($"metadata key #{i}");
            var typeAt = r.Position;
            var type = r.U32($"the type of metadata '{UntrustedText.Shown(key)}'");
            var value = ReadValue(r, key, type, typeAt, 0);
            if (!metadata.TryAdd(key, value))
                throw r.Bad($"metadata key '{UntrustedText.Shown(key)}' appears twice");
        }

        var alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var al))
        {
            if (!GgufValue.IsInteger(al.Type) || al.GetInt() is <= 0 or > 1 << 30 || (al.GetInt() & (al.GetInt() - 1)) != 0)
                throw r.Bad($"general.alignment is {al} ({al.TypeName}); it must be a power of two");
            alignment = (uint)al.GetInt();
        }

        var infos = new List<(string Name, long[] Shape, DType DType, ulong Offset, long Bytes)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
        {
            var name = r.String($"the name of tensor #{i}");
            if (!names.Add(name))
                throw r.Bad($"tensor '{UntrustedText.Shown(name)}' appears twice");
            var nDims = r.U32($"the dimension count of tensor '{UntrustedText.Shown(name)}'");
            if (nDims is 0 or > MaxDims)
                throw r.Bad($"tensor '{UntrustedText.Shown(name)}' has {nDims} dimensions (1 to {MaxDims} allowed)");
            var ne = new long[nDims];
            long count = 1;
            for (var d = 0; d < nDims; d++)
            {
                var n = r.U64($"dimension {d} of tensor '{UntrustedText.Shown(name)}'");
                if (n > long.MaxValue)
                    throw r.Bad($"tensor '{UntrustedText.Shown(name)}' dimension {d} is {n}, too large");
                ne[d] = (long)n;
                try
                {
                    count = checked(count * ne[d]);
                }
                catch (OverflowException)
                {
                    throw r.Bad($"tensor '{UntrustedText.Shown(name)}' has shape ne=[{string.Join(", ", ne.Take(d + 1))}...] whose element count overflows");
                }
            }
            var ggmlType = r.U32($"the type of tensor '{UntrustedText.Shown(name)}'");
            var offset = r.U64($"the data offset of tensor '{UntrustedText.Shown(name)}'");
            if (!GgmlTypes.TryToDType(ggmlType, out var dtype))
                throw new Vib3Exception(SqlState.FeatureNotSupported, GgmlTypes.IsKnown(ggmlType)
                    ? $"{full}: tensor '{UntrustedText.Shown(name)}' has type {GgmlTypes.Name(ggmlType)}, which vib3 does not read (supported: {GgmlTypes.ReadNames})"
                    : $"{full}: tensor '{UntrustedText.Shown(name)}' has ggml type {ggmlType}, which vib3 does not know (supported: {GgmlTypes.ReadNames})");
            if (ne[0] % dtype.BlockSize() != 0)
                throw r.Bad($"tensor '{UntrustedText.Shown(name)}' is {GgmlTypes.Name(ggmlType)} with rows of {ne[0]} values, not a multiple of the block size {dtype.BlockSize()}");
            if (offset % alignment != 0)
                throw r.Bad($"tensor '{UntrustedText.Shown(name)}' data offset {offset} is not a multiple of the alignment {alignment}");
            long bytes;
            try
            {
                bytes = dtype.ByteCount(count);
            }
            catch (OverflowException)
            {
                throw r.Bad($"tensor '{UntrustedText.Shown(name)}' is too large ({count} elements)");
            }
            var shape = new long[nDims];
            for (var d = 0; d < nDims; d++) shape[d] = ne[nDims - 1 - d];
            infos.Add((name, shape, dtype, offset, bytes));
        }

        var dataStart = (r.Position + alignment - 1) / alignment * alignment;
        var tensors = new Dictionary<string, SourceTensor>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var (name, shape, dtype, offset, bytes) in infos)
        {
            var dataLength = Math.Max(0, r.Length - dataStart);
            if (offset > (ulong)dataLength || bytes > dataLength - (long)offset)
                throw r.Bad($"truncated: tensor '{UntrustedText.Shown(name)}' data [{offset}, {offset + (ulong)bytes}) of the data section " +
                            $"(which starts at {dataStart}) runs past the end of the file ({r.Length} bytes)");
            tensors.Add(name, new SourceTensor(name, dtype, shape, full, dataStart + (long)offset, bytes));
            order.Add(name);
        }
        var sorted = tensors.Values.Where(t => t.ByteLength > 0).OrderBy(t => t.DataOffset).ToList();
        for (var i = 1; i < sorted.Count; i++)
            if (sorted[i - 1].DataOffset + sorted[i - 1].ByteLength > sorted[i].DataOffset)
                throw r.Bad($"tensors '{UntrustedText.Shown(sorted[i - 1].Name)}' and '{UntrustedText.Shown(sorted[i].Name)}' overlap in the data section");

        files.Open(full);
        return new GgufCheckpoint(shownPath, files, version, alignment, dataStart, metadata, tensors, order);
    }

    private static GgufValue ReadValue(GgufHeaderReader r, string key, uint type, long typeAt, int depth)
    {
        var what = $"metadata '{UntrustedText.Shown(key)}'";
        switch ((GgufValueType)type)
        {
            case GgufValueType.UInt8: return new(GgufValueType.UInt8, r.U8(what));
            case GgufValueType.Int8: return new(GgufValueType.Int8, (sbyte)r.U8(what));
            case GgufValueType.UInt16: return new(GgufValueType.UInt16, r.U16(what));
            case GgufValueType.Int16: return new(GgufValueType.Int16, (short)r.U16(what));
            case GgufValueType.UInt32: return new(GgufValueType.UInt32, r.U32(what));
            case GgufValueType.Int32: return new(GgufValueType.Int32, (int)r.U32(what));
            case GgufValueType.Float32: return new(GgufValueType.Float32, r.F32(what));
            case GgufValueType.Bool: return new(GgufValueType.Bool, r.U8(what) != 0);
            case GgufValueType.String: return new(GgufValueType.String, r.String(what));
            case GgufValueType.UInt64: return new(GgufValueType.UInt64, r.U64(what));
            case GgufValueType.Int64: return new(GgufValueType.Int64, (long)r.U64(what));
            case GgufValueType.Float64: return new(GgufValueType.Float64, r.F64(what));
            case GgufValueType.Array:
                if (depth >= MaxArrayNesting)
                    throw r.Bad($"{what} nests arrays more than {MaxArrayNesting} deep");
                var elemAt = r.Position;
                var elem = r.U32($"the element type of {what}");
                var countAt = r.Position;
                var count = r.U64($"the element count of {what}");
                var min = MinSize(elem) ?? throw r.Bad($"{what} has an array of unknown value type {elem} (at offset {elemAt})");
                // Checked as the 64-bit count it is, against the header bytes left, before the cast and the allocation.
                if (count > (ulong)r.Remaining / (ulong)min)
                    throw r.Bad($"{what} claims an array of {count} elements at offset {countAt}, more than the file can hold (or the header limit allows)");
                return new(GgufValueType.Array, ReadArray(r, key, elem, checked((int)count), elemAt, depth), (GgufValueType)elem);
            default:
                throw r.Bad($"{what} has unknown value type {type} (at offset {typeAt})");
        }
    }

    private static int? MinSize(uint t) => (GgufValueType)t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => null,
    };

    private static Array ReadArray(GgufHeaderReader r, string key, uint elem, int n, long elemAt, int depth)
    {
        var what = $"an element of metadata '{UntrustedText.Shown(key)}'";
        switch ((GgufValueType)elem)
        {
            case GgufValueType.UInt8: return Fill(new byte[n], _ => r.U8(what));
            case GgufValueType.Int8: return Fill(new sbyte[n], _ => (sbyte)r.U8(what));
            case GgufValueType.UInt16: return Fill(new ushort[n], _ => r.U16(what));
            case GgufValueType.Int16: return Fill(new short[n], _ => (short)r.U16(what));
            case GgufValueType.UInt32: return Fill(new uint[n], _ => r.U32(what));
            case GgufValueType.Int32: return Fill(new int[n], _ => (int)r.U32(what));
            case GgufValueType.Float32: return Fill(new float[n], _ => r.F32(what));
            case GgufValueType.Bool: return Fill(new bool[n], _ => r.U8(what) != 0);
            case GgufValueType.String: return Fill(new string[n], _ => r.String(what));
            case GgufValueType.UInt64: return Fill(new ulong[n], _ => r.U64(what));
            case GgufValueType.Int64: return Fill(new long[n], _ => (long)r.U64(what));
            case GgufValueType.Float64: return Fill(new double[n], _ => r.F64(what));
            case GgufValueType.Array:
                return Fill(new GgufValue[n], _ => ReadValue(r, key, (uint)GgufValueType.Array, elemAt, depth + 1));
            default:
                throw r.Bad($"metadata '{UntrustedText.Shown(key)}' has an array of unknown value type {elem} (at offset {elemAt})");
        }
    }

    private static T[] Fill<T>(T[] a, Func<int, T> read)
    {
        for (var i = 0; i < a.Length; i++) a[i] = read(i);
        return a;
    }
}
