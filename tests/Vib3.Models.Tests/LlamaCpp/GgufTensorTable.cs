using System.Text;

namespace Vib3.Models.Tests.LlamaCpp;

/// <summary>The tensor table of a GGUF file read directly (name, ggml type id, shape, data offset), whatever its
/// types: what a test needs to compare llama.cpp's tensor bytes with vib3's pages, independent of what vib3's own
/// GGUF reader accepts.</summary>
internal sealed class GgufTensorTable
{
    public sealed record Tensor(string Name, uint GgmlType, long[] Shape, long DataOffset);

    private const uint DefaultAlignment = 32;

    private GgufTensorTable(string path, Dictionary<string, Tensor> tensors)
    {
        Path = path;
        Tensors = tensors;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary><paramref name="bytes"/> bytes of tensor <paramref name="name"/>'s data from <paramref name="offset"/>.</summary>
    public byte[] Read(string name, long offset, int bytes)
    {
        using var f = File.OpenRead(Path);
        f.Position = Tensors[name].DataOffset + offset;
        var data = new byte[bytes];
        f.ReadExactly(data);
        return data;
    }

    public static GgufTensorTable Open(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        if (r.ReadUInt32() != 0x46554747) throw new InvalidDataException($"{path} is not a GGUF file");
        r.ReadUInt32(); // version
        var tensorCount = r.ReadInt64();
        var kvCount = r.ReadInt64();
        var alignment = DefaultAlignment;
        for (var i = 0; i < kvCount; i++)
        {
            var key = ReadString(r);
            var type = r.ReadUInt32();
            if (key == "general.alignment") alignment = r.ReadUInt32();
            else SkipValue(r, type);
        }
        var infos = new List<(string Name, uint Type, long[] Shape, long Offset)>();
        for (var i = 0; i < tensorCount; i++)
        {
            var name = ReadString(r);
            var dims = r.ReadUInt32();
            var shape = new long[dims];
            for (var d = 0; d < dims; d++) shape[d] = r.ReadInt64();
            infos.Add((name, r.ReadUInt32(), shape, r.ReadInt64()));
        }
        var dataStart = (r.BaseStream.Position + alignment - 1) / alignment * alignment;
        return new GgufTensorTable(path, infos.ToDictionary(t => t.Name, t => new Tensor(t.Name, t.Type, t.Shape, dataStart + t.Offset)));
    }

    private static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadInt64())));

    private static void SkipValue(BinaryReader r, uint type)
    {
        switch (type)
        {
            case 0 or 1 or 7: r.ReadByte(); break;
            case 2 or 3: r.ReadUInt16(); break;
            case 4 or 5 or 6: r.ReadUInt32(); break;
            case 10 or 11 or 12: r.ReadUInt64(); break;
            case 8: ReadString(r); break;
            case 9:
                var itemType = r.ReadUInt32();
                var count = r.ReadInt64();
                for (var i = 0; i < count; i++) SkipValue(r, itemType);
                break;
            default: throw new InvalidDataException($"GGUF value type {type}");
        }
    }
}
