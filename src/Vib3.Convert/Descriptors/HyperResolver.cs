using System.Globalization;
using Vib3.Convert.Config;
using Vib3.Core;
using Vib3.Core.IO;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Descriptors;

/// <summary>Reads a family's hyper-parameters from config.json or GGUF metadata, as its descriptor says, and
/// checks that they make a model. A key may also be "#key" (length of an array) or "shape:TENSOR:AXIS"
/// (a dimension of a tensor, for files whose metadata omits a size the tensors make plain).</summary>
public static class HyperResolver
{
    /// <summary>Resolution order matters: defaults may refer to earlier names (headDim = dim/heads).</summary>
    private static readonly string[] Order =
    [
        "layers", "dim", "heads",
        "qkRopeHeadDim", "qkHeadDim", "qkNopeHeadDim", "vHeadDim", "kvLoraRank", "qLoraRank",
        "kvHeads", "headDim", "vocab", "context", "experts", "topK",
        "expertHidden", "sharedExperts", "sharedExpertHidden", "ropeTheta", "normEps", "normTopKProb", "tieEmbeddings",
        "bosTokenId", "eosTokenId",
        "leadingDenseLayers", "denseHidden", "expertGating", "expertGroups", "expertGroupsUsed", "expertWeightsScale",
        "yarn", "yarnFactor", "yarnOriginalContext", "ggufYarnLogMultiplier", "yarnMscaleAllDim", "yarnBetaFast", "yarnBetaSlow",
        "skippedMtpLayers", "moeLayerFreq",
    ];

    private static readonly HashSet<string> Optional = ["sharedExpertHidden", "bosTokenId", "eosTokenId"];

    /// <summary>The longest context_length a model may declare: 16 Mi tokens, beyond every published model (the longest
    /// are 1–10 M). A larger one is no real model's; it is refused at conversion rather than stored as a limit no
    /// sequence could reach (the KV cache still refuses at run time whatever memory cannot hold).</summary>
    public const int MaxContextLength = 1 << 24;

    public static IReadOnlyDictionary<string, double> Resolve(
        FamilyDescriptor family, IConfigSource config, bool gguf, string? ggufArchitecture, Func<string, long[]?> tensorShape)
    {
        var values = new Dictionary<string, double>();
        foreach (var name in Order)
        {
            if (!family.Hyper.TryGetValue(name, out var source)) continue;
            var keys = (gguf ? source.Gguf : source.Hf)
                .Select(k => k.Replace("{arch}", ggufArchitecture ?? "", StringComparison.Ordinal)).ToList();
            double? value = null;
            foreach (var key in keys)
            {
                value = (gguf ? source.GgufValues : source.HfValues) is { } table ? Mapped(config, key, table) : Lookup(config, key, tensorShape);
                if (value is not null) break;
            }
            var fallback = gguf ? source.GgufDefault : source.HfDefault;
            if (value is null && fallback is { } def && def != "none")
                value = def switch
                {
                    "true" => 1,
                    "false" => 0,
                    _ => ShapeExpression.Evaluate(def, n => values.TryGetValue(n, out var v) ? v : null),
                };
            if (value is null)
            {
                if (Optional.Contains(name) || fallback == "none") continue;
                var tried = keys.Count == 0 ? "(no key)" : string.Join(" or ", keys.Select(k => $"'{k}'"));
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"{config.Origin}: missing {tried} ({UntrustedText.Shown(name)})");
            }
            values[name] = value.Value;
        }
        return values;
    }

    private static double? Mapped(IConfigSource config, string key, Dictionary<string, double> table)
    {
        if (config.GetText(key) is not { } text) return null;
        return table.TryGetValue(text, out var v)
            ? v
            : throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{config.Origin}: '{key}' = '{UntrustedText.Shown(text)}' is not supported (vib3 knows: {string.Join(", ", table.Keys)})");
    }

    private static double? Lookup(IConfigSource config, string key, Func<string, long[]?> tensorShape)
    {
        if (key.StartsWith('#')) return config.ArrayLength(key[1..]);
        if (!key.StartsWith("shape:", StringComparison.Ordinal)) return config.GetNumber(key);
        var parts = key.Split(':');
        var shape = tensorShape(parts[1]);
        var axis = int.Parse(parts[2], CultureInfo.InvariantCulture);
        return shape is not null && axis < shape.Length ? shape[shape.Length - 1 - axis] : null;
    }

    public static HyperParameters Build(IReadOnlyDictionary<string, double> v, string ropeStyle, string origin)
    {
        int Int(string name, int min = 1)
        {
            var x = v.TryGetValue(name, out var d) ? d : 0;
            if (x != Math.Floor(x) || x < min || x > int.MaxValue)
                throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"{origin}: {UntrustedText.Shown(name)} = {x.ToString(CultureInfo.InvariantCulture)} is not a valid value (whole number ≥ {min})");
            return (int)x;
        }

        int? OptionalInt(string name) => v.ContainsKey(name) ? Int(name, min: 0) : null;

        double Positive(string name)
        {
            var x = v.GetValueOrDefault(name);
            return x > 0 && double.IsFinite(x)
                ? x
                : throw new Vib3Exception(SqlState.InvalidParameterValue,
                    $"{origin}: {UntrustedText.Shown(name)} = {x.ToString(CultureInfo.InvariantCulture)} must be a positive number");
        }

        var h = new HyperParameters
        {
            Layers = Int("layers"),
            Dim = Int("dim"),
            Heads = Int("heads"),
            KvHeads = Int("kvHeads"),
            HeadDim = Int("headDim"),
            Vocab = Int("vocab"),
            Context = Int("context"),
            Experts = Int("experts"),
            TopK = Int("topK"),
            ExpertHidden = Int("expertHidden"),
            SharedExpertHidden = v.GetValueOrDefault("sharedExpertHidden") > 0 ? Int("sharedExpertHidden") : 0,
            RopeTheta = Positive("ropeTheta"),
            NormEps = Positive("normEps"),
            NormTopKProb = v["normTopKProb"] != 0,
            TiedEmbeddings = v.TryGetValue("tieEmbeddings", out var tied) && tied != 0,
            RopeStyle = ropeStyle,
            BosTokenId = OptionalInt("bosTokenId"),
            EosTokenId = OptionalInt("eosTokenId"),
        };
        if (v.GetValueOrDefault("kvLoraRank") > 0) LatentAttention(h, Int, origin);
        h.LeadingDenseLayers = OptionalInt("leadingDenseLayers") ?? 0;
        if (h.LeadingDenseLayers > 0) h.DenseHidden = Int("denseHidden");
        if (h.LeadingDenseLayers >= h.Layers)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{origin}: all {h.Layers} layers are dense (leading dense layers {h.LeadingDenseLayers}); vib3 serves Mixture-of-Experts models");
        h.ExpertGating = v.GetValueOrDefault("expertGating") == 2 ? "sigmoid" : null;
        h.ExpertGroups = OptionalInt("expertGroups") ?? 0;
        h.ExpertGroupsUsed = OptionalInt("expertGroupsUsed") ?? 0;
        h.ExpertWeightsScale = v.GetValueOrDefault("expertWeightsScale");
        if (h.ExpertGroups > 1 && (h.Experts % h.ExpertGroups != 0 || h.ExpertGroupsUsed < 1 || h.ExpertGroupsUsed > h.ExpertGroups
                                   || h.TopK > h.ExpertGroupsUsed * (h.Experts / h.ExpertGroups)))
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{origin}: {h.Experts} experts in {h.ExpertGroups} groups with {h.ExpertGroupsUsed} used cannot give top-{h.TopK}");
        if (v.GetValueOrDefault("yarn") != 0)
        {
            h.YarnFactor = Positive("yarnFactor");
            h.YarnOriginalContext = Int("yarnOriginalContext");
            h.YarnMscaleAllDim = v.GetValueOrDefault("yarnMscaleAllDim");
            h.YarnBetaFast = Positive("yarnBetaFast");
            h.YarnBetaSlow = Positive("yarnBetaSlow");
        }
        h.SkippedMtpLayers = OptionalInt("skippedMtpLayers") ?? 0;
        if (v.TryGetValue("moeLayerFreq", out var freq) && freq != 1)
            throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{origin}: moe_layer_freq = {freq.ToString(CultureInfo.InvariantCulture)} (routed layers only every few layers) is not supported; " +
                "vib3 runs models whose layers after the leading dense ones are all routed");
        if (h.Context > MaxContextLength)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{origin}: context_length {h.Context} is more than the {MaxContextLength} tokens vib3 accepts");
        if (h.TopK > h.Experts)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{origin}: top-k {h.TopK} exceeds the expert count {h.Experts}");
        if (h.Heads % h.KvHeads != 0)
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{origin}: {h.Heads} attention heads are not a multiple of {h.KvHeads} key/value heads");
        return h;
    }

    /// <summary>Multi-head latent attention's ranks and per-head widths; the q/k head width is nope + rope.</summary>
    private static void LatentAttention(HyperParameters h, Func<string, int, int> read, string origin)
    {
        h.KvLoraRank = read("kvLoraRank", 1);
        h.QLoraRank = read("qLoraRank", 0);
        h.QkNopeHeadDim = read("qkNopeHeadDim", 1);
        h.QkRopeHeadDim = read("qkRopeHeadDim", 2);
        h.VHeadDim = read("vHeadDim", 1);
        if (h.QkRopeHeadDim % 2 != 0 || h.HeadDim != h.QkNopeHeadDim + h.QkRopeHeadDim)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{origin}: latent attention head widths do not add up (nope {h.QkNopeHeadDim} + rope {h.QkRopeHeadDim} must be the " +
                $"q/k head width {h.HeadDim}; rope width even)");
    }
}
