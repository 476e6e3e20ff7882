using Vib3.Core;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>The DType rows of the low-bit IQ types: each names its ggml type, has ggml's block shape, dequantises
/// through <see cref="DTypeConvert.ToF32"/> bit for bit as ggml does, and has its scale checked by
/// <see cref="DTypes.FirstNonFiniteScale"/> (IQ1_M's too, which no whole f16 field holds).</summary>
public class IQDTypeTests
{
    public static readonly TheoryData<DType> Types =
        new(DType.IQ2_XXS, DType.IQ2_XS, DType.IQ2_S, DType.IQ3_XXS, DType.IQ3_S, DType.IQ1_S, DType.IQ1_M);

    [Theory]
    [MemberData(nameof(Types))]
    public void Row_IsGgmlsTypeAndDequantisesAsGgmlDoes(DType t)
    {
        var f = BlockFormatCase.Get(t.Name());
        Assert.True(DTypes.TryParse(t.Name(), out var parsed) && parsed == t, $"{t.Name()} does not parse back to {t}");
        Assert.Equal(f.BlockValues, t.BlockSize());
        Assert.Equal(f.BlockBytes, t.Layout().BlockBytes);
        Assert.False(t.IsWritable());

        const int blocks = 12;
        var bytes = f.RandomBlocks(new Random((int)t), blocks);
        var mine = new float[blocks * f.BlockValues];
        DTypeConvert.ToF32(t, bytes, mine);
        var ggml = GgmlReference.Dequantize(f.Name, bytes, mine.Length);
        Assert.Equal(ggml.Select(BitConverter.SingleToInt32Bits), mine.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void FirstNonFiniteScale_FindsTheBlockWithANaNScale(DType t)
    {
        var f = BlockFormatCase.Get(t.Name());
        var bytes = f.RandomBlocks(new Random(11), 5);
        Assert.Equal(-1, t.FirstNonFiniteScale(bytes));
        f.ScaleFields.Single()(bytes.AsSpan(3 * f.BlockBytes, f.BlockBytes), Half.NaN);
        Assert.Equal(3, t.FirstNonFiniteScale(bytes));
    }
}
