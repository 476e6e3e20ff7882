using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Models.Inference;
using Vib3.Models.Tests;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Serving;

/// <summary>GENERATE on a deepseek2 model (DeepSeek-V3 / Kimi K2 layout: MLA, a dense first layer, grouped sigmoid
/// routing with a selection bias, a shared expert, YaRN), converted from an HF folder with a multi-token-prediction
/// layer: the engine's continuous batch gives the tokens greedy decoding gives through the forward pass alone (whose
/// logits match llama.cpp), EXPLAIN shows the family's operators, and retrieval is refused as not supported.</summary>
public sealed class Deepseek2GenerateTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public Deepseek2GenerateTests()
    {
        var source = Path.Combine(_dir.Path, "hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Deepseek2, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 32, Experts = 8, TopK = 3,
            ExpertGroups = 4, GroupsUsed = 2, Vocab = 300, Context = 128, Seed = 5, RopeTheta = 10_000,
            YarnFactor = 4, MscaleAllDim = 1, MtpLayers = 1,
        }, source);
        _data = Path.Combine(_dir.Path, "data");
        new ModelConverter(new ModelCatalog(_data), DescriptorCatalog.LoadDefault()).Convert(new ConversionRequest(source, "ds", PageRows: 16));
    }

    public void Dispose() => _dir.Dispose();

    private Vib3Engine Engine() => new(new EngineOptions(_data, 64L << 20));

    [Fact]
    public async Task Generate_gives_the_forward_pass_s_greedy_tokens()
    {
        var catalog = new ModelCatalog(_data);
        var manifest = catalog.Get("ds");
        var tokenizer = TokenizerLoader.Load(Path.Combine(catalog.ModelDir("ds"), "tokenizer"), manifest.Tokenizer);
        var prompt = tokenizer.Encode("the cat sat", tokenizer.AddBosByDefault);
        List<int> expected;
        using (var pass = await SequencePass.OpenAsync(catalog, "ds", new PageStoreOptions { RamBudgetBytes = 64 << 20 }, contextLength: 64))
            expected = await pass.GreedyAsync(prompt, 12, tokenizer.IsEndOfGeneration);

        Assert.True(expected.Count >= 4, "the greedy continuation should not end at once");

        await using var engine = Engine();
        using var s = engine.OpenSession(ClientAccess.LocalAdministrator);
        var rows = await SessionRows.LastAsync(s, "GENERATE 'the cat sat' FROM MODEL ds MAX_TOKENS 12");
        var text = string.Concat(rows.Select(r => (string)r[0]!));
        Assert.Equal(tokenizer.Decode(expected), text);
    }

    [Fact]
    public async Task Explain_shows_latent_attention_the_dense_layer_and_the_grouped_router()
    {
        await using var engine = Engine();
        using var s = engine.OpenSession(ClientAccess.LocalAdministrator);
        var plan = string.Join("\n", (await SessionRows.LastAsync(s, "EXPLAIN GENERATE 'a' FROM MODEL ds MAX_TOKENS 4")).Select(r => (string)r[0]!));
        Assert.Contains("latent (MLA), 4 heads x 16+8 (v 16), q rank 24, kv rank 32; cache 40 values per token (full keys and values: 160)", plan);
        Assert.Contains("DenseFfn", plan);
        Assert.Contains("sigmoid, top-3 of 8 by score + selection bias, best 2 of 4 groups eligible, renormalised, weights x 2.5", plan);
        Assert.Contains("ungated", plan);
    }

    [Fact]
    public async Task Key_only_retrieval_is_refused_as_not_supported_and_router_first_runs()
    {
        await using var engine = Engine();
        using var s = engine.OpenSession(ClientAccess.LocalAdministrator);
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => SessionRows.LastAsync(s, "GENERATE 'a' FROM MODEL ds USING RETRIEVAL k=2"));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.Contains("deepseek2", e.Message);
        Assert.Contains("use router-first USING RETRIEVAL", e.Message);

        await SessionRows.LastAsync(s, "CREATE INDEX ON MODEL ds");
        Assert.NotEmpty((string)(await SessionRows.LastAsync(s, "GENERATE 'a b' FROM MODEL ds USING RETRIEVAL budget=0.5 MAX_TOKENS 4"))[0][0]!);
        Assert.Equal((await SessionRows.LastAsync(s, "GENERATE 'a b' FROM MODEL ds USING ROUTER MAX_TOKENS 6"))[0][0],
            (await SessionRows.LastAsync(s, "GENERATE 'a b' FROM MODEL ds USING RETRIEVAL budget=0.9999 MAX_TOKENS 6"))[0][0]); // every page, read by router-first (budget=1 would be the router itself)
    }
}
