using System.IO.Compression;
using System.Text;
using Vib3.Core;
using Vib3.Models.Tokenization;

namespace Vib3.ModelReport;

/// <summary>The held-out split tokenized exactly as tools/train/train_moe.py did: every document (blank-line
/// separated, stripped) becomes &lt;s&gt; doc &lt;/s&gt;, all concatenated; window i feeds tokens iT .. iT+T-1 and
/// predicts iT+1 .. iT+T, each window on its own (no context carried over), only whole windows.</summary>
internal sealed class HeldOutText
{
    private HeldOutText(int documents, int[] stream)
    {
        Documents = documents;
        Stream = stream;
    }

    public int Documents { get; }

    public int[] Stream { get; }

    public static HeldOutText Load(string path, ITextTokenizer tokenizer)
    {
        if (tokenizer.BosId is not { } bos || tokenizer.EosId is not { } eos)
            throw new Vib3Exception(SqlState.InvalidParameterValue, "the tokenizer needs BOS and EOS to frame documents as training did");
        var docs = ReadText(path).Split("\n\n").Select(d => d.Trim()).Where(d => d.Length > 0).ToArray();
        var stream = new List<int>();
        foreach (var doc in docs)
        {
            stream.Add(bos);
            stream.AddRange(tokenizer.Encode(doc, addBos: false));
            stream.Add(eos);
        }
        return new HeldOutText(docs.Length, [.. stream]);
    }

    /// <summary>(inputs, targets) of every whole window of <paramref name="length"/> tokens.</summary>
    public IEnumerable<(ArraySegment<int> Inputs, ArraySegment<int> Targets)> Windows(int length)
    {
        for (var start = 0; start + length + 1 <= Stream.Length; start += length)
            yield return (new ArraySegment<int>(Stream, start, length), new ArraySegment<int>(Stream, start + 1, length));
    }

    // Python's text mode reads universal newlines: "\r\n" counts as "\n" when splitting documents.
    private static string ReadText(string path)
    {
        using var file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(s, Encoding.UTF8);
        return reader.ReadToEnd().ReplaceLineEndings("\n");
    }
}
