using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Query;

namespace Vib3.Tests.Serving;

/// <summary>Logits through the engine: the tokens run on the model's scheduler, between the steps of whatever else is
/// generating, and give the same bits as alone.</summary>
public sealed class LogitsTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public LogitsTests() => _data = ServingModel.Convert(_dir, expertHidden: 128, context: 2048);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Logits_beside_a_running_generation_equal_the_logits_alone()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_data, 64L << 20));
        int[] tokens = [5, 9, 13, 21];
        var alone = await engine.Generations.LogitsAsync("m", tokens, allPositions: true);
        Assert.Equal(tokens.Length, alone.Length);

        var plan = engine.Plan(new Generate(new StringLiteral("one two three"), new GenerateOptions
        {
            Model = new Identifier("m"), MaxTokens = 2000, IgnoreEos = true, // far more steps than the logits take, on any machine
        }));
        await using var running = await engine.Generations.StartAsync(plan, ChoiceOptions.Default);
        var drained = Task.Run(async () => { await foreach (var _ in running.ReadAllAsync()) { } });
        var beside = await engine.Generations.LogitsAsync("m", tokens, allPositions: true);
        Assert.False(drained.IsCompleted, "the generation was to run throughout");
        for (var i = 0; i < tokens.Length; i++) Assert.Equal(alone[i], beside[i]);
        await running.DisposeAsync();
        await drained;
    }

    [Fact]
    public async Task Bad_tokens_and_unknown_models_are_refused()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_data, 64L << 20));
        var e = await Assert.ThrowsAsync<Vib3Exception>(() => engine.Generations.LogitsAsync("m", [5, 300], allPositions: false));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("token id 300 is outside the vocabulary (0..299)", e.Message);
        e = await Assert.ThrowsAsync<Vib3Exception>(() => engine.Generations.LogitsAsync("nope", [5], allPositions: false));
        Assert.Equal(SqlState.UndefinedObject, e.SqlState);
    }
}
