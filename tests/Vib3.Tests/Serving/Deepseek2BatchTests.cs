using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Serving;

/// <summary>Continuous batching on a deepseek2 model converted to q8_0 (whose batched and single-row products are
/// bit-identical): each sequence's latent cache, grouped routing and dense first layer must give exactly the tokens it
/// gives alone when it shares steps with others.</summary>
public sealed class Deepseek2BatchTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public Deepseek2BatchTests()
    {
        var source = Path.Combine(_dir.Path, "hf");
        // Widths that q8_0 blocks of 32 divide: every row of q_b, k_b, v_b, the experts and the dense FFN.
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Deepseek2, Layers = 3, Dim = 64, Heads = 4, ExpertHidden = 32, DenseHidden = 64, Experts = 8, TopK = 3,
            ExpertGroups = 4, GroupsUsed = 2, QLoraRank = 32, KvLoraRank = 32, QkNopeHeadDim = 32, QkRopeHeadDim = 8, VHeadDim = 32,
            Vocab = 300, Context = 96, Seed = 3, RopeTheta = 10_000,
        }, source);
        _data = Path.Combine(_dir.Path, "data");
        new ModelConverter(new ModelCatalog(_data), DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", DType.Q8_0));
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Sequences_in_one_batch_give_exactly_the_tokens_they_give_alone()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_data, 64L << 20));
        var prompts = GenerationServiceTests.Prompts;
        var alone = new List<string>();
        foreach (var p in prompts)
            alone.Add((await GenerationServiceTests.ReadAsync(
                await engine.Generations.StartAsync(GenerationServiceTests.Plan(engine, p, 16), ChoiceOptions.Default))).Text[0]);

        var streams = await Task.WhenAll(prompts.Select(p => engine.Generations.StartAsync(GenerationServiceTests.Plan(engine, p, 16), ChoiceOptions.Default)));
        var together = await Task.WhenAll(streams.Select(s => GenerationServiceTests.ReadAsync(s)));
        Assert.Equal(alone, together.Select(t => t.Text[0]));
        Assert.True(alone.Distinct().Count() > 1, "different prompts continue differently");
        var stats = Assert.Single(engine.Generations.Stats());
        Assert.True(stats.BatchRows > stats.Steps, "some steps held several sequences");
    }
}
