using System.Text.Json.Nodes;

namespace Vib3.Soak;

/// <summary>Malicious variants of the default model's Hugging Face folder, and tampered copies of a stored model.</summary>
internal static class ModelFolders
{
    /// <summary>A copy of the default model's folder (files copied, not linked) to tamper with.</summary>
    public static string Copy(VibCli cli, string scratch, string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(scratch, name)).FullName;
        foreach (var f in Directory.GetFiles(cli.DefaultModelFolder)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    /// <summary>Sets tokenizer_config.json's chat_template.</summary>
    public static void SetChatTemplate(string dir, string template) => EditJson(Path.Combine(dir, "tokenizer_config.json"), o => o["chat_template"] = template);

    public static void EditJson(string path, Action<JsonObject> edit)
    {
        var o = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(o);
        File.WriteAllText(path, o.ToJsonString());
    }

    /// <summary>Swaps two rows of pages.tbl (version 1 layout: 16-byte header, 24-byte rows of address, length,
    /// reserved, checksum) whose pages have the same length, so each row still matches a valid page. Returns the
    /// rows swapped, or null when the layout is not the one this knows.</summary>
    public static (int, int)? SwapPageRows(string modelDir)
    {
        var path = Path.Combine(modelDir, "pages.tbl");
        var bytes = File.ReadAllBytes(path);
        // pages.tbl version 2: a 24-byte header, then 24-byte rows (address, length, page id, checksum).
        const int header = 24, row = 24;
        if (bytes.Length < header || BitConverter.ToUInt32(bytes, 4) != 2 || (bytes.Length - header) % row != 0) return null;
        var rows = (bytes.Length - header) / row;
        int Length(int i) => BitConverter.ToInt32(bytes, header + i * row + 8);
        // the first pair from the start: dense pages (attention, embeddings) every token reads
        for (var j = 0; j < rows; j++)
        for (var i = j + 1; i < rows; i++)
        {
            if (Length(i) != Length(j)) continue;
            var a = bytes.AsSpan(header + i * row, row).ToArray();
            bytes.AsSpan(header + j * row, row).CopyTo(bytes.AsSpan(header + i * row, row));
            a.CopyTo(bytes.AsSpan(header + j * row, row));
            File.WriteAllBytes(path, bytes);
            return (j, i);
        }
        return null;
    }
}
