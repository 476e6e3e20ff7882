using Vib3.Convert.Config;
using Vib3.Core;

namespace Vib3.Convert.Formats;

/// <summary>How a block-scaled float8 checkpoint (DeepSeek-V3, Kimi K2; transformers' "fine-grained fp8") scales its
/// weights, from config.json's quantization_config {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [r, c]}:
/// weight "X" [out, in] comes with "X_scale_inv" [⌈out/r⌉, ⌈in/c⌉], and value [i, j] = e4m3(X[i, j]) ·
/// X_scale_inv[i / r, j / c]. Despite its name the scale multiplies: it is the inverse of the quantiser's 448 / max|w|.
/// activation_scheme concerns activations at run time and does not change what the weights are.</summary>
public sealed record Fp8BlockScaling(int BlockRows, int BlockCols)
{
    public const string ScaleSuffix = "_scale_inv";

    /// <summary>The scaling config.json declares, or null when it declares no fp8 quantisation.</summary>
    public static Fp8BlockScaling? FromConfig(HfConfig config)
    {
        const string q = "quantization_config";
        if (config.GetText($"{q}.quant_method") != "fp8") return null;
        var fmt = config.GetText($"{q}.fmt");
        if (fmt is not null && fmt != "e4m3")
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{config.Origin}: {q}.fmt is '{fmt}'; vib3 reads float8 e4m3 weights only");
        var block = config.GetNumbers($"{q}.weight_block_size") ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{config.Origin}: fp8 {q} without weight_block_size (one scale per tensor or per channel) is not supported; " +
            "vib3 reads the 2-D block-scaled form DeepSeek-V3 and Kimi K2 publish");
        if (block.Length != 2 || block.Any(b => b < 1 || b > int.MaxValue || b != Math.Floor(b)))
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{config.Origin}: {q}.weight_block_size should be two positive integers [rows, cols], found [{string.Join(", ", block)}]");
        return new Fp8BlockScaling((int)block[0], (int)block[1]);
    }

    /// <summary>The scale grid a [rows, cols] weight needs.</summary>
    public long[] ScaleShape(long rows, long cols) => [(rows + BlockRows - 1) / BlockRows, (cols + BlockCols - 1) / BlockCols];
}
