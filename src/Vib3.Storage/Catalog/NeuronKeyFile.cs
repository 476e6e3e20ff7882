using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vib3.Core;

namespace Vib3.Storage.Catalog;

/// <summary>One MoE layer's neuron keys, what router-first retrieval scores pages with: per neuron (stored order: expert
/// e's neuron b·R + c is row c of its bundle page b) a copy of its W_gate row in <see cref="KeyType"/>, from which its
/// gate activation for a token is predicted, optionally a copy of its W_up row (<see cref="Up"/>), from which its up
/// value is, and a weight: ‖W_down[:, i]‖ with up rows, ‖W_up[i]‖ · ‖W_down[:, i]‖ without, which stands for the size
/// of what it adds (Vib3.Models.Retrieval.NeuronKeys builds them, and predicts with them).</summary>
/// <param name="Gate">[experts · hidden, dim] rows of <paramref name="KeyType"/>.</param>
/// <param name="Up">[experts · hidden, dim] rows of <paramref name="KeyType"/>, or empty (gate rows only).</param>
/// <param name="Weight">[experts · hidden].</param>
public sealed record NeuronKeyLayer(int Layer, int Experts, int Hidden, int Dim, DType KeyType, byte[] Gate, byte[] Up, float[] Weight)
{
    public int RowBytes => (int)KeyType.ByteCount(Dim);

    /// <summary>Whether the keys hold up rows as well as gate rows.</summary>
    public bool HasUp => Up.Length > 0;

    /// <summary>What the keys are, as CREATE INDEX's neuron_keys names them: gate_q8_0, gate_up_q4_0, ...</summary>
    public string Name => NameOf(KeyType, HasUp);

    public static string NameOf(DType type, bool up) => (up ? "gate_up_" : "gate_") + type.Name();

    /// <summary>Bytes a token reads to score one expert's neurons: their key rows and weights.</summary>
    public long ExpertBytes => Hidden * NeuronBytes(KeyType, HasUp, Dim);

    /// <summary>Bytes of one neuron's key: its gate row (and up row) of <paramref name="dim"/> values and its weight.</summary>
    public static long NeuronBytes(DType type, bool up, int dim) => (up ? 2 : 1) * type.ByteCount(dim) + sizeof(float);
}

/// <summary>A neuron key file's header: what its keys are, without them.</summary>
public sealed record NeuronKeyHeader(int Layer, int Experts, int Hidden, int Dim, DType KeyType, bool HasUp)
{
    public string Name => NeuronKeyLayer.NameOf(KeyType, HasUp);
}

/// <summary>The binary file of one layer's neuron keys, &lt;model&gt;/index/layer-LLL.neurons (little-endian), beside the
/// layer's page keys:
/// <code>
///   0  8  magic "VIB3NRNS"
///   8  4  format version (1)
///  12  4  layer
///  16  4  experts E
///  20  4  neurons per expert H
///  24  4  dims D
///  28  4  key type (DType)
///  32  4  rows per neuron: 1 (gate) or 2 (gate, up)
///  36  4  reserved (0)
///  40  E·H·row  gate key rows, each D values of the key type
///  ..  E·H·row  up key rows, when 2 rows per neuron
///  ..  E·H·4    weights, f32
///  end 8  XxHash64 (seed 0) of every byte before it
/// </code>
/// Any mismatch (size, magic, version, checksum) is DataCorrupted naming the file.</summary>
public static class NeuronKeyFile
{
    public const int FormatVersion = 1;
    public const int HeaderBytes = 40;
    private static ReadOnlySpan<byte> Magic => "VIB3NRNS"u8;

    public static string FileName(int layer) => $"layer-{layer:D3}.neurons";

    /// <summary>Writes the file and fsyncs it (the caller publishes the folder it lies in with one rename).</summary>
    public static void Write(string path, NeuronKeyLayer k)
    {
        var neurons = (long)k.Experts * k.Hidden;
        if (k.Gate.Length != neurons * k.RowBytes || (k.HasUp && k.Up.Length != k.Gate.Length) || k.Weight.Length != neurons)
            throw new ArgumentException($"{k.Gate.Length} + {k.Up.Length} key bytes and {k.Weight.Length} weights are not {neurons} neurons of {k.RowBytes} bytes", nameof(k));
        var bytes = new byte[HeaderBytes + k.Gate.Length + k.Up.Length + k.Weight.Length * 4 + 8];
        Magic.CopyTo(bytes);
        var h = bytes.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], k.Layer);
        BinaryPrimitives.WriteInt32LittleEndian(h[16..], k.Experts);
        BinaryPrimitives.WriteInt32LittleEndian(h[20..], k.Hidden);
        BinaryPrimitives.WriteInt32LittleEndian(h[24..], k.Dim);
        BinaryPrimitives.WriteInt32LittleEndian(h[28..], (int)k.KeyType);
        BinaryPrimitives.WriteInt32LittleEndian(h[32..], k.HasUp ? 2 : 1);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("neuron key files are little-endian");
        k.Gate.CopyTo(h[HeaderBytes..]);
        k.Up.CopyTo(h[(HeaderBytes + k.Gate.Length)..]);
        MemoryMarshal.AsBytes(k.Weight.AsSpan()).CopyTo(h[(HeaderBytes + k.Gate.Length + k.Up.Length)..]);
        SealedFile.Write(path, bytes);
    }

    /// <summary>The header only (for the planner): no keys read, no checksum verified.</summary>
    public static NeuronKeyHeader ReadHeader(string path)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        if (!SealedFile.TryReadHeader(path, h)) throw Corrupt(path, "shorter than its header");
        return ParseHeader(path, h);
    }

    /// <summary>The whole file, checksum verified.</summary>
    public static NeuronKeyLayer Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderBytes + 8) throw Corrupt(path, "shorter than its header");
        var h = bytes.AsSpan();
        var header = ParseHeader(path, h[..HeaderBytes]);
        var rows = header.HasUp ? 2 : 1;
        var neurons = (long)header.Experts * header.Hidden;
        var rowsBytes = neurons * header.KeyType.ByteCount(header.Dim);
        var expected = HeaderBytes + rows * rowsBytes + neurons * 4 + 8;
        if (bytes.Length != expected) throw Corrupt(path, $"{bytes.Length} bytes where its header implies {expected}");
        if (!SealedFile.Intact(h)) throw Corrupt(path, "checksum mismatch");
        var gate = h.Slice(HeaderBytes, (int)rowsBytes).ToArray();
        var up = header.HasUp ? h.Slice(HeaderBytes + gate.Length, (int)rowsBytes).ToArray() : [];
        var weight = MemoryMarshal.Cast<byte, float>(h.Slice(HeaderBytes + gate.Length + up.Length, (int)neurons * 4)).ToArray();
        return new NeuronKeyLayer(header.Layer, header.Experts, header.Hidden, header.Dim, header.KeyType, gate, up, weight);
    }

    private static NeuronKeyHeader ParseHeader(string path, ReadOnlySpan<byte> h)
    {
        if (!h[..8].SequenceEqual(Magic)) throw Corrupt(path, "not a vib3 neuron key file (bad magic)");
        var version = BinaryPrimitives.ReadInt32LittleEndian(h[8..]);
        if (version != FormatVersion) throw Corrupt(path, $"format version {version}, this vib3 reads {FormatVersion}");
        var (layer, experts, hidden, dims) = (BinaryPrimitives.ReadInt32LittleEndian(h[12..]), BinaryPrimitives.ReadInt32LittleEndian(h[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(h[20..]), BinaryPrimitives.ReadInt32LittleEndian(h[24..]));
        var type = (DType)BinaryPrimitives.ReadInt32LittleEndian(h[28..]);
        var rows = BinaryPrimitives.ReadInt32LittleEndian(h[32..]);
        if (layer < 0 || experts <= 0 || hidden <= 0 || dims <= 0 || !Enum.IsDefined(type) || dims % type.BlockSize() != 0 || rows is not (1 or 2))
            throw Corrupt(path, $"header out of range (layer {layer}, experts {experts}, neurons {hidden}, dims {dims}, key type {(int)type}, rows {rows})");
        return new NeuronKeyHeader(layer, experts, hidden, dims, type, rows == 2);
    }

    private static Vib3Exception Corrupt(string path, string why) =>
        new(SqlState.DataCorrupted, $"neuron key file {path} is corrupt: {why} (rebuild it with CREATE INDEX ON MODEL)");
}
