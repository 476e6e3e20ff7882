using System.Text;
using System.Text.Json.Nodes;

namespace Vib3.Formats.Tests;

/// <summary>Byte surgery on generated files to make the bad inputs the readers must reject.</summary>
internal static class Corrupt
{
    public static void Truncate(string file, long newLength)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Write);
        fs.SetLength(newLength);
    }

    public static void Patch(string file, long offset, ReadOnlySpan<byte> bytes)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.Write);
        fs.Position = offset;
        fs.Write(bytes);
    }

    public static void PatchU32(string file, long offset, uint v) => Patch(file, offset, BitConverter.GetBytes(v));
    public static void PatchU64(string file, long offset, ulong v) => Patch(file, offset, BitConverter.GetBytes(v));

    /// <summary>Rewrites a safetensors header through <paramref name="edit"/>, keeping the data bytes.</summary>
    public static void EditSafetensorsHeader(string file, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(file);
        var n = (int)BitConverter.ToUInt64(bytes, 0);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        File.WriteAllBytes(file, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. bytes.AsSpan(8 + n)]);
    }

    /// <summary>Offset of the GGUF string (u64 length + bytes) equal to <paramref name="s"/>: a metadata key or tensor name.</summary>
    public static long FindGgufString(string file, string s)
    {
        var bytes = File.ReadAllBytes(file);
        byte[] needle = [.. BitConverter.GetBytes((ulong)Encoding.UTF8.GetByteCount(s)), .. Encoding.UTF8.GetBytes(s)];
        var i = bytes.AsSpan().IndexOf(needle);
        if (i < 0) throw new InvalidOperationException($"'{s}' not found in {file}");
        return i;
    }

    /// <summary>Positions inside the tensor info of <paramref name="name"/>.</summary>
    public static (long NDims, long Ne, long Type, long Offset) TensorInfo(string file, string name)
    {
        var at = FindGgufString(file, name) + 8 + Encoding.UTF8.GetByteCount(name);
        var nDims = BitConverter.ToUInt32(File.ReadAllBytes(file), (int)at);
        var ne = at + 4;
        var type = ne + 8 * nDims;
        return (at, ne, type, type + 4);
    }
}
