using Vib3.Convert.Formats;

namespace Vib3.Synth;

/// <summary>Block-scaled float8 quantisation as DeepSeek-V3 publishes its weights (inference/kernel.py weight_quant):
/// per block×block tile of a [rows, cols] matrix, scale = max|w| / 448 and code = e4m3(w / scale); the file stores
/// the codes and, as "weight_scale_inv", the scales, so that w ≈ e4m3 · scale.</summary>
internal static class Fp8Blocks
{
    /// <summary>The scale grid [⌈rows/block⌉, ⌈cols/block⌉], row-major.</summary>
    public static float[] Scales(ReadOnlySpan<float> w, long rows, long cols, int block)
    {
        long gridCols = (cols + block - 1) / block;
        var scales = new float[checked((int)((rows + block - 1) / block * gridCols))];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
            {
                ref var s = ref scales[r / block * gridCols + c / block];
                s = MathF.Max(s, MathF.Abs(w[(int)(r * cols + c)]));
            }
        for (var i = 0; i < scales.Length; i++) scales[i] /= Float8E4M3.MaxFinite;
        return scales;
    }

    /// <summary>The e4m3 codes of <paramref name="w"/> under <paramref name="scales"/> (an all-zero block stays zero).</summary>
    public static byte[] Codes(ReadOnlySpan<float> w, float[] scales, long rows, long cols, int block)
    {
        long gridCols = (cols + block - 1) / block;
        var codes = new byte[w.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
            {
                var s = scales[r / block * gridCols + c / block];
                var i = (int)(r * cols + c);
                codes[i] = s == 0 ? (byte)0 : Float8E4M3.FromFloat(w[i] / s);
            }
        return codes;
    }

    /// <summary>What a reader of the file gets: code · scale, computed in f32.</summary>
    public static float[] Dequantised(ReadOnlySpan<float> w, long rows, long cols, int block)
    {
        var scales = Scales(w, rows, cols, block);
        var codes = Codes(w, scales, rows, cols, block);
        long gridCols = (cols + block - 1) / block;
        var values = new float[codes.Length];
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++)
            {
                var i = (int)(r * cols + c);
                values[i] = Float8E4M3.ToFloat(codes[i]) * scales[r / block * gridCols + c / block];
            }
        return values;
    }
}
