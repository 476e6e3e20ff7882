using Vib3.Core;
using Vib3.Storage.Catalog;

namespace Vib3.Models.Architectures;

/// <summary>The families vib3 runs and the recipe of each. Top-k renormalisation and the RoPE layout come from the
/// manifest (the converter read them from the checkpoint), the rest is fixed per family.</summary>
public static class Families
{
    public static BlockRecipe Recipe(ModelManifest m)
    {
        var renorm = m.Hyper.NormTopKProb;
        var interleaved = m.Hyper.RopeStyle == "interleaved";
        return m.Family switch
        {
            "mixtral" => new BlockRecipe(QkNorm.None, AttentionBias: false, SharedExpert: false, renorm, interleaved),
            "qwen2moe" => new BlockRecipe(QkNorm.None, AttentionBias: true, SharedExpert: true, renorm, interleaved),
            "qwen3moe" => new BlockRecipe(QkNorm.PerHead, AttentionBias: false, SharedExpert: false, renorm, interleaved),
            "olmoe" => new BlockRecipe(QkNorm.Full, AttentionBias: false, SharedExpert: false, renorm, interleaved),
            "deepseek2" => new BlockRecipe(QkNorm.None, AttentionBias: false, SharedExpert: m.Hyper.SharedExpertHidden > 0, renorm, interleaved,
                LatentAttention: true, GroupedRouting: true),
            _ => throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"model '{m.Name}' is of family '{m.Family}', which the forward pass does not run yet"),
        };
    }
}
