using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>One tensor of a source checkpoint. <paramref name="Shape"/> is row-major, outermost first (numpy
/// order; GGUF's ne reversed). <paramref name="DataOffset"/> is absolute in <paramref name="FilePath"/>, and
/// <paramref name="ByteLength"/> is what the file holds.</summary>
/// <param name="DType">The element type reads deliver: the stored type, or f32 for a <see cref="Float8"/> tensor.</param>
public sealed record SourceTensor(string Name, DType DType, long[] Shape, string FilePath, long DataOffset, long ByteLength)
{
    /// <summary>The file holds float8 e4m3 (one byte a value) that means something only with its block scales: it is
    /// read through <see cref="Fp8DequantisingCheckpoint"/>, which delivers the dequantised values as f32.</summary>
    public bool Float8 { get; init; }

    /// <summary>The source element type as a manifest and `vib3 models info` name it.</summary>
    public string TypeName => Float8 ? "f8_e4m3" : DType.Name();

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
