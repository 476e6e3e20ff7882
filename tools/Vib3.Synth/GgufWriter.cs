using System.Text;
using Vib3.Core;

namespace Vib3.Synth;

/// <summary>GGUF metadata value types (the numbering is the file format's).</summary>
public enum GgufWriterType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>Writes a GGUF v3 file: metadata key/values, tensor infos, then tensor data, each tensor
/// aligned to <see cref="Alignment"/>. Tensors are declared with a producer that streams their bytes.
/// Shapes are given numpy-style (outermost first) and stored reversed as ggml's ne.</summary>
public sealed class GgufWriter
{
    private sealed record Kv(string Key, GgufWriterType Type, GgufWriterType ElementType, object Value);
    private sealed record TensorEntry(string Name, DType DType, long[] Shape, long ByteLength, Action<Stream> WriteData);

    private readonly List<Kv> _kvs = [];
    private readonly List<TensorEntry> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    public GgufWriter(uint alignment = 32)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), "alignment must be a power of two");
        Alignment = alignment;
        AddUInt32("general.alignment", alignment);
    }

    public uint Alignment { get; }
    public uint Version { get; init; } = 3;

    public static uint GgmlType(DType t) => t switch
    {
        DType.F32 => 0,
        DType.F16 => 1,
        DType.Q8_0 => 8,
        DType.BF16 => 30,
        DType.IQ2_XXS => 16,
        DType.IQ2_XS => 17,
        DType.IQ3_XXS => 18,
        DType.IQ1_S => 19,
        DType.IQ3_S => 21,
        DType.IQ2_S => 22,
        DType.IQ1_M => 29,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    private void AddKv(string key, GgufWriterType type, GgufWriterType elementType, object value)
    {
        if (!_keys.Add(key)) throw new ArgumentException($"metadata key '{key}' added twice", nameof(key));
        _kvs.Add(new Kv(key, type, elementType, value));
    }

    public void AddUInt8(string key, byte v) => AddKv(key, GgufWriterType.UInt8, default, v);
    public void AddInt8(string key, sbyte v) => AddKv(key, GgufWriterType.Int8, default, v);
    public void AddUInt16(string key, ushort v) => AddKv(key, GgufWriterType.UInt16, default, v);
    public void AddInt16(string key, short v) => AddKv(key, GgufWriterType.Int16, default, v);
    public void AddUInt32(string key, uint v) => AddKv(key, GgufWriterType.UInt32, default, v);
    public void AddInt32(string key, int v) => AddKv(key, GgufWriterType.Int32, default, v);
    public void AddFloat32(string key, float v) => AddKv(key, GgufWriterType.Float32, default, v);
    public void AddBool(string key, bool v) => AddKv(key, GgufWriterType.Bool, default, v);
    public void AddString(string key, string v) => AddKv(key, GgufWriterType.String, default, v);
    public void AddUInt64(string key, ulong v) => AddKv(key, GgufWriterType.UInt64, default, v);
    public void AddInt64(string key, long v) => AddKv(key, GgufWriterType.Int64, default, v);
    public void AddFloat64(string key, double v) => AddKv(key, GgufWriterType.Float64, default, v);

    /// <summary>A scalar of any type but Array, <paramref name="value"/> convertible to it (as another file's reader
    /// returned it).</summary>
    public void AddScalar(string key, GgufWriterType type, object value)
    {
        if (type == GgufWriterType.Array) throw new ArgumentException("arrays go through AddArray", nameof(type));
        AddKv(key, type, default, value);
    }

    /// <summary>An array of scalars or strings; <paramref name="values"/> holds elements of the matching
    /// C# type (byte, sbyte, ushort, short, uint, int, float, bool, string, ulong, long, double).</summary>
    public void AddArray(string key, GgufWriterType elementType, System.Collections.IList values)
    {
        if (elementType == GgufWriterType.Array) throw new ArgumentException("nested arrays are not written", nameof(elementType));
        AddKv(key, GgufWriterType.Array, elementType, values);
    }

    public void AddStringArray(string key, IReadOnlyList<string> v) => AddArray(key, GgufWriterType.String, v.ToArray());
    public void AddInt32Array(string key, IReadOnlyList<int> v) => AddArray(key, GgufWriterType.Int32, v.ToArray());
    public void AddFloat32Array(string key, IReadOnlyList<float> v) => AddArray(key, GgufWriterType.Float32, v.ToArray());

    public void AddTensor(string name, DType dtype, long[] shape, Action<Stream> writeData)
    {
        if (!_tensorNames.Add(name)) throw new ArgumentException($"tensor '{name}' added twice", nameof(name));
        if (shape.Length is < 1 or > 4) throw new ArgumentException($"tensor '{name}' must have 1 to 4 dimensions", nameof(shape));
        if (dtype == DType.Q8_0 && shape[^1] % DTypes.Q8BlockSize != 0)
            throw new ArgumentException($"tensor '{name}': q8_0 rows must be a multiple of {DTypes.Q8BlockSize}", nameof(shape));
        long count = 1;
        foreach (var d in shape) count = checked(count * d);
        _tensors.Add(new TensorEntry(name, dtype, (long[])shape.Clone(), dtype.ByteCount(count), writeData));
    }

    public void AddTensor(string name, DType dtype, long[] shape, ReadOnlyMemory<byte> data) =>
        AddTensor(name, dtype, shape, s => s.Write(data.Span));

    public void Write(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        var w = new BinaryWriter(fs, Encoding.UTF8, leaveOpen: true);
        w.Write("GGUF"u8);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_kvs.Count);
        foreach (var kv in _kvs)
        {
            WriteString(w, kv.Key);
            w.Write((uint)kv.Type);
            if (kv.Type == GgufWriterType.Array)
            {
                var list = (System.Collections.IList)kv.Value;
                w.Write((uint)kv.ElementType);
                w.Write((ulong)list.Count);
                foreach (var item in list) WriteScalar(w, kv.ElementType, item!);
            }
            else
            {
                WriteScalar(w, kv.Type, kv.Value);
            }
        }
        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (var i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            for (var d = t.Shape.Length - 1; d >= 0; d--) w.Write((ulong)t.Shape[d]);
            w.Write(GgmlType(t.DType));
            w.Write((ulong)offset);
            offsets[i] = offset;
            offset = Align(offset + t.ByteLength);
        }
        w.Flush();
        Pad(fs);
        var dataStart = fs.Position;
        for (var i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            if (fs.Position != dataStart + offsets[i]) throw new InvalidOperationException("gguf layout drifted");
            CountingStream.Run(fs, $"{path}: tensor '{t.Name}'", t.ByteLength, t.WriteData);
            Pad(fs);
        }
    }

    private long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private void Pad(Stream s)
    {
        var n = (int)(Align(s.Position) - s.Position);
        if (n > 0) s.Write(new byte[n]);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    private static void WriteScalar(BinaryWriter w, GgufWriterType type, object v)
    {
        switch (type)
        {
            case GgufWriterType.UInt8: w.Write(System.Convert.ToByte(v)); break;
            case GgufWriterType.Int8: w.Write(System.Convert.ToSByte(v)); break;
            case GgufWriterType.UInt16: w.Write(System.Convert.ToUInt16(v)); break;
            case GgufWriterType.Int16: w.Write(System.Convert.ToInt16(v)); break;
            case GgufWriterType.UInt32: w.Write(System.Convert.ToUInt32(v)); break;
            case GgufWriterType.Int32: w.Write(System.Convert.ToInt32(v)); break;
            case GgufWriterType.Float32: w.Write(System.Convert.ToSingle(v)); break;
            case GgufWriterType.Bool: w.Write((byte)(System.Convert.ToBoolean(v) ? 1 : 0)); break;
            case GgufWriterType.String: WriteString(w, (string)v); break;
            case GgufWriterType.UInt64: w.Write(System.Convert.ToUInt64(v)); break;
            case GgufWriterType.Int64: w.Write(System.Convert.ToInt64(v)); break;
            case GgufWriterType.Float64: w.Write(System.Convert.ToDouble(v)); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

}
