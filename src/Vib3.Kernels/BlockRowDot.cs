using Vib3.Core;

namespace Vib3.Kernels;

/// <summary>Row dot for block types without a dedicated kernel (the legacy Q4_0, Q4_1, Q5_0, Q5_1): each block is
/// dequantised with the scalar reference (exactly ggml's values) and dotted with f32 activations in f32. Unlike
/// llama.cpp, which quantises the activations to q8_0/q8_1 for these types, the activations stay f32, so the only
/// error against the exact product is f32 summation order.</summary>
internal static unsafe class BlockRowDot
{
    public static float Dot(DType t, byte* row, float* x, int cols)
    {
        var layout = t.Layout();
        var values = stackalloc float[layout.BlockValues];
        var block = new Span<float>(values, layout.BlockValues);
        var sum = 0f;
        for (var b = 0; b < cols / layout.BlockValues; b++)
        {
            LegacyBlocks.Dequantize(t, new ReadOnlySpan<byte>(row + (long)b * layout.BlockBytes, layout.BlockBytes), block);
            var xb = x + (long)b * layout.BlockValues;
            var partial = 0f;
            for (var j = 0; j < layout.BlockValues; j++) partial += values[j] * xb[j];
            sum += partial;
        }
        return sum;
    }
}
