using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>One tensor of a source checkpoint. <paramref name="Shape"/> is row-major, outermost first (numpy
/// order; GGUF's ne reversed). <paramref name="DataOffset"/> is absolute in <paramref name="FilePath"/>.</summary>
public sealed record SourceTensor(string Name, DType DType, long[] Shape, string FilePath, long DataOffset, long ByteLength)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
