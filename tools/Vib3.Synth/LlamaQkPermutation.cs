namespace Vib3.Synth;

/// <summary>The row reordering llama.cpp's converter applies to Q and K weights of `llama`-architecture
/// models: HF stores each head's rotary pairs as two halves (rotate-half), GGUF interleaves them
/// (numpy: w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(w.shape)). K uses the KV
/// head count. It only moves whole rows, so it applies to bytes of any element type, Q8_0 included.</summary>
public static class LlamaQkPermutation
{
    /// <summary>The GGUF row that HF row <paramref name="hfRow"/> lands in.</summary>
    public static int GgufRow(int hfRow, int rows, int nHead)
    {
        Check(rows, nHead);
        var headDim = rows / nHead;
        var half = headDim / 2;
        var h = hfRow / headDim;
        var r = hfRow % headDim;
        var s = r / half;
        var i = r % half;
        return h * headDim + 2 * i + s;
    }

    /// <summary>HF layout → GGUF layout.</summary>
    public static void Permute<T>(ReadOnlySpan<T> hf, Span<T> gguf, int rows, int rowLength, int nHead)
    {
        for (var r = 0; r < rows; r++)
            hf.Slice(r * rowLength, rowLength).CopyTo(gguf.Slice(GgufRow(r, rows, nHead) * rowLength, rowLength));
    }

    /// <summary>GGUF layout → HF layout.</summary>
    public static void Unpermute<T>(ReadOnlySpan<T> gguf, Span<T> hf, int rows, int rowLength, int nHead)
    {
        for (var r = 0; r < rows; r++)
            gguf.Slice(GgufRow(r, rows, nHead) * rowLength, rowLength).CopyTo(hf.Slice(r * rowLength, rowLength));
    }

    private static void Check(int rows, int nHead)
    {
        if (nHead <= 0 || rows % nHead != 0 || rows / nHead % 2 != 0)
            throw new ArgumentException($"{rows} rows do not split into {nHead} heads of even size");
    }
}
