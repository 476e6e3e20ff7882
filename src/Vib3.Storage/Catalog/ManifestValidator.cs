using System.Text.RegularExpressions;
using Vib3.Core;
using Vib3.Core.IO;

namespace Vib3.Storage.Catalog;

/// <summary>Checks a manifest before anything uses it: every count, shape and name against the others, so a manifest
/// that parses and carries a matching checksum but says something impossible (layers 0, top-k above the expert
/// count, an unknown rope style, heads that do not match the tensors' shapes, a page outside the store) is refused
/// with one line instead of failing deep inside the forward pass or computing garbage. <see cref="Validate"/> needs
/// only the manifest (listing models uses it); <see cref="ValidatePages"/> also holds it to the page table (opening
/// a model uses both).</summary>
public static partial class ManifestValidator
{
    /// <summary>Largest context length a manifest may claim (16 Mi tokens, above any model vib3 knows of): the context
    /// has no tensor to be checked against, and it sizes what the forward pass allocates.</summary>
    public const int MaxContext = 1 << 24;

    /// <summary>Largest page the page log holds.</summary>
    public const int MaxPageBytes = 1 << 30;

    public static Vib3Exception Corrupt(string model, string what) =>
        new(SqlState.DataCorrupted, $"model {model}'s manifest is corrupt: {what}");

    /// <summary>Throws XX001 naming the first field that is wrong.</summary>
    public static void Validate(ModelManifest m, string model)
    {
        var c = new ManifestChecker(model);
        if (m.Name != model) throw c.Fail($"name is {ManifestChecker.Quote(m.Name)} but the model is {model}");
        if (!FamilyName().IsMatch(m.Family)) throw c.Fail($"family {ManifestChecker.Quote(m.Family)} is not a family name");
        Source(c, m.Source);
        Hyper(c, m.Hyper);
        var dtype = c.DType("dtype", m.DType);
        if (m.Quantization is { } q && !QuantizationRequest().IsMatch(q))
            throw c.Fail($"quantization is '{UntrustedText.Shown(q)}', not a request like 'q4_k_m' or 'q8_0, experts q4_k_m, dense bf16'");
        c.Between("pageRows", m.PageRows, 1, m.Hyper.ExpertHidden, "hyper.expertHidden");
        c.Between("maxPageBytes", m.MaxPageBytes, 1, MaxPageBytes);
        Tokenizer(c, m.Tokenizer);
        c.AtLeast("pageCount", m.PageCount, 1);
        c.AtLeast("pageBytes", m.PageBytes, 1);
        Tensors(c, m);
        ExpertGrids(c, m, dtype);
        PagesCovered(c, m);
        ParameterCounts(c, m);
    }

    private static void Source(ManifestChecker c, SourceInfo s)
    {
        c.OneOf("source.format", s.Format, "safetensors", "gguf");
        c.NotEmpty("source.path", s.Path);
        c.NotEmpty("source.architecture", s.Architecture);
        c.NotEmpty("source.dType", s.DType);
        c.AtLeast("source.bytes", s.Bytes, 0);
    }

    private static void Hyper(ManifestChecker c, HyperParameters h)
    {
        c.AtLeast("hyper.layers", h.Layers, 1);
        c.AtLeast("hyper.dim", h.Dim, 1);
        c.AtLeast("hyper.heads", h.Heads, 1);
        c.AtLeast("hyper.kvHeads", h.KvHeads, 1);
        if (h.Heads % h.KvHeads != 0)
            throw c.Fail($"hyper.heads {h.Heads} is not a multiple of hyper.kvHeads {h.KvHeads}");
        c.AtLeast("hyper.headDim", h.HeadDim, 1);
        c.AtLeast("hyper.vocab", h.Vocab, 1);
        c.Between("hyper.context", h.Context, 1, MaxContext);
        c.AtLeast("hyper.experts", h.Experts, 1);
        c.Between("hyper.topK", h.TopK, 1, h.Experts, "hyper.experts");
        c.AtLeast("hyper.expertHidden", h.ExpertHidden, 1);
        c.AtLeast("hyper.sharedExpertHidden", h.SharedExpertHidden, 0);
        c.Positive("hyper.ropeTheta", h.RopeTheta);
        c.Positive("hyper.normEps", h.NormEps);
        if (h.NormEps >= 1) throw c.Fail($"hyper.normEps is {h.NormEps}, must be below 1");
        c.OneOf("hyper.ropeStyle", h.RopeStyle, "neox", "interleaved");
        if (h.BosTokenId is { } bos) c.Between("hyper.bosTokenId", bos, 0, h.Vocab - 1L, "hyper.vocab - 1");
        if (h.EosTokenId is { } eos) c.Between("hyper.eosTokenId", eos, 0, h.Vocab - 1L, "hyper.vocab - 1");
        c.Between("hyper.leadingDenseLayers", h.LeadingDenseLayers, 0, h.Layers - 1L, "hyper.layers - 1");
        c.AtLeast("hyper.denseHidden", h.DenseHidden, h.LeadingDenseLayers > 0 ? 1 : 0);
        LatentAttention(c, h);
        c.OneOf("hyper.expertGating", h.ExpertGating, null, "softmax", "sigmoid");
        ExpertGroups(c, h);
        c.NonNegative("hyper.expertWeightsScale", h.ExpertWeightsScale);
        c.NonNegative("hyper.yarnFactor", h.YarnFactor);
        if (h.YarnFactor > 0)
        {
            c.Between("hyper.yarnOriginalContext", h.YarnOriginalContext, 1, MaxContext);
            c.NonNegative("hyper.yarnMscaleAllDim", h.YarnMscaleAllDim);
            c.Positive("hyper.yarnBetaFast", h.YarnBetaFast);
            c.Positive("hyper.yarnBetaSlow", h.YarnBetaSlow);
        }
        c.AtLeast("hyper.skippedMtpLayers", h.SkippedMtpLayers, 0);
    }

    /// <summary>RoPE rotates pairs: the rotated width is even. With latent attention (kvLoraRank above 0) every head
    /// attends over one shared latent, so there are as many key/value heads as heads.</summary>
    private static void LatentAttention(ManifestChecker c, HyperParameters h)
    {
        c.AtLeast("hyper.kvLoraRank", h.KvLoraRank, 0);
        if (h.KvLoraRank == 0)
        {
            foreach (var (field, value) in new[]
                     {
                         ("hyper.qLoraRank", h.QLoraRank), ("hyper.qkNopeHeadDim", h.QkNopeHeadDim),
                         ("hyper.qkRopeHeadDim", h.QkRopeHeadDim), ("hyper.vHeadDim", h.VHeadDim),
                     })
                if (value != 0) throw c.Fail($"{field} is {value}, must be 0 without latent attention (hyper.kvLoraRank 0)");
            if (h.HeadDim % 2 != 0) throw c.Fail($"hyper.headDim is {h.HeadDim}, must be even (rope rotates pairs)");
            return;
        }
        c.AtLeast("hyper.qLoraRank", h.QLoraRank, 0);
        c.AtLeast("hyper.qkNopeHeadDim", h.QkNopeHeadDim, 1);
        c.AtLeast("hyper.qkRopeHeadDim", h.QkRopeHeadDim, 2);
        if (h.QkRopeHeadDim % 2 != 0) throw c.Fail($"hyper.qkRopeHeadDim is {h.QkRopeHeadDim}, must be even (rope rotates pairs)");
        c.AtLeast("hyper.vHeadDim", h.VHeadDim, 1);
        if ((long)h.QkNopeHeadDim + h.QkRopeHeadDim != h.HeadDim)
            throw c.Fail($"hyper.headDim is {h.HeadDim}, must be hyper.qkNopeHeadDim + hyper.qkRopeHeadDim = {(long)h.QkNopeHeadDim + h.QkRopeHeadDim}");
        if (h.KvHeads != h.Heads)
            throw c.Fail($"hyper.kvHeads is {h.KvHeads}, must be hyper.heads ({h.Heads}) with latent attention");
    }

    private static void ExpertGroups(ManifestChecker c, HyperParameters h)
    {
        c.AtLeast("hyper.expertGroups", h.ExpertGroups, 0);
        c.AtLeast("hyper.expertGroupsUsed", h.ExpertGroupsUsed, 0);
        if (h.ExpertGroups <= 1) return;
        if (h.Experts % h.ExpertGroups != 0)
            throw c.Fail($"hyper.expertGroups is {h.ExpertGroups}, which does not divide hyper.experts {h.Experts}");
        c.Between("hyper.expertGroupsUsed", h.ExpertGroupsUsed, 1, h.ExpertGroups, "hyper.expertGroups");
        if ((long)h.TopK > (long)h.ExpertGroupsUsed * (h.Experts / h.ExpertGroups))
            throw c.Fail($"hyper.topK is {h.TopK}, more than the {h.ExpertGroupsUsed} used groups of {h.Experts / h.ExpertGroups} experts hold");
    }

    /// <summary>Tokenizer files are opened under the store's tokenizer folder: names only, never paths.</summary>
    private static void Tokenizer(ManifestChecker c, TokenizerInfo t)
    {
        c.OneOf("tokenizer.kind", t.Kind, "hf", "gguf");
        if (t.Files.Count == 0) throw c.Fail("tokenizer.files is empty");
        for (var i = 0; i < t.Files.Count; i++)
        {
            var f = t.Files[i];
            if (string.IsNullOrEmpty(f) || f is "." or ".." || f.IndexOfAny(['/', '\\', '\0']) >= 0)
                throw c.Fail($"tokenizer.files[{i}] is {ManifestChecker.Quote(f)}, not a file name");
        }
        // The fallback and what it replaced come together; the description is shown, so it is bounded.
        if (t.PreTokenizerFallback is null && t.UnsupportedPreTokenizer is null) return;
        c.OneOf("tokenizer.preTokenizerFallback", t.PreTokenizerFallback, "gpt2");
        c.NotEmpty("tokenizer.unsupportedPreTokenizer", t.UnsupportedPreTokenizer ?? "");
        if (t.UnsupportedPreTokenizer!.Length > MaxUnsupportedPreTokenizerChars)
            throw c.Fail($"tokenizer.unsupportedPreTokenizer is longer than {MaxUnsupportedPreTokenizerChars} characters");
    }

    /// <summary>Longest description of a replaced pre-tokenizer a manifest may hold (conversion writes under 200).</summary>
    public const int MaxUnsupportedPreTokenizerChars = 400;

    [GeneratedRegex("^[a-z0-9_]{1,64}$")]
    private static partial Regex FamilyName();

    /// <summary>[--dtype name][, experts name][, dense name], at least one: what vib3 convert writes, shown as it is.</summary>
    [GeneratedRegex("^(?=.)(?!, )(?:[a-z0-9_]{1,16})?(?:(?:^|, )experts [a-z0-9_]{1,16})?(?:(?:^|, )dense [a-z0-9_]{1,16})?\\z")]
    private static partial Regex QuantizationRequest();
}
