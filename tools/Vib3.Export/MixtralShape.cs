using Vib3.Convert.Config;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Export;

/// <summary>Reads a Mixtral config.json into the shape record vib3-synth lays GGUF files out from, so the
/// export reuses its tensor map (names, stacked experts, Q/K permutation, F32 norms and router) and its
/// hyperparameter keys instead of keeping a second copy of llama.cpp's layout.</summary>
public static class MixtralShape
{
    public const string Architecture = "MixtralForCausalLM";

    /// <param name="storeAs">Element type of the matrices in the GGUF file (norms and router stay F32).</param>
    public static SyntheticModelSpec FromHfConfig(string folder, DType storeAs)
    {
        var c = HfConfig.Load(folder);
        if (c.Architecture != Architecture)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{c.Origin}: architecture {c.Architecture ?? "(none)"}; the GGUF export handles {Architecture} only");
        if (c.GetNumber("tie_word_embeddings") is 1)
            throw new Vib3Exception(SqlState.FeatureNotSupported, $"{c.Origin}: tied embeddings are not exported (llama.cpp's llama layout wants output.weight)");
        double Num(string key) => c.GetNumber(key)
            ?? throw new Vib3Exception(SqlState.InvalidParameterValue, $"{c.Origin}: '{key}' is missing");
        int Int(string key) => (int)Num(key);
        var dim = Int("hidden_size");
        var heads = Int("num_attention_heads");
        var spec = new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral,
            Layers = Int("num_hidden_layers"),
            Dim = dim,
            ExpertHidden = Int("intermediate_size"),
            Heads = heads,
            KvHeads = (int)(c.GetNumber("num_key_value_heads") ?? heads),
            HeadDim = (int)(c.GetNumber("head_dim") ?? dim / heads),
            Experts = Int("num_local_experts"),
            TopK = Int("num_experts_per_tok"),
            Vocab = Int("vocab_size"),
            Context = Int("max_position_embeddings"),
            DType = storeAs,
            // transformers 5 moved rope_theta under rope_parameters; older configs have it at the top level.
            RopeTheta = c.GetNumber("rope_parameters.rope_theta") ?? Num("rope_theta"),
            NormEps = Num("rms_norm_eps"),
        };
        spec.Validate();
        return spec;
    }
}
