using System.Diagnostics;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Engine.Serving;
using Vib3.Models.Inference;
using Vib3.Models.Weights;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;
using static Vib3.Tests.Serving.GenerationServiceTests;

namespace Vib3.Tests.Serving;

/// <summary>Cancellation reaches the running step: a prompt prefilled in one long step, on a store whose budget holds
/// two pages (so every page of the step is a real disk read), stops within a few pages of its cancel. The scheduler
/// used to hand the step only its shutdown token, so a cancelled prompt's step read every page to its end.</summary>
public sealed class StepCancellationTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public StepCancellationTests()
    {
        // Small pages (8 rows) and 8 experts: a 64-row prefill step reads over a thousand pages.
        var source = _dir.Sub("hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = 4, Dim = 128, ExpertHidden = 256, Heads = 4, KvHeads = 2,
            Experts = 8, TopK = 2, Vocab = 300, Context = 128, Seed = 5, DType = DType.F32,
        }, source);
        _data = _dir.Sub("data");
        new ModelConverter(new ModelCatalog(_data), DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", DType.F32, PageRows: 8));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>A prompt of one full step: 64 tokens in this model's tokenizer (BOS and 63 single bytes it has no merge for).</summary>
    private static readonly string Prompt = string.Concat(Enumerable.Range(0, 63).Select(i => "qxzjvkwy"[i * 5 % 8]));

    /// <summary>Pages a step may still start after its token fired: the reads already in flight (the expert window
    /// of <see cref="ModelWeights.UnorderedInFlight"/>, the dense stream's <see cref="ModelWeights.ReadAhead"/>).</summary>
    private const int PagesInFlight = ModelWeights.UnorderedInFlight + ModelWeights.ReadAhead;

    private static long Misses(Vib3Engine engine) => engine.Generations.Stats()[0].Tiers.Misses;

    [Fact]
    public async Task A_cancelled_one_step_prefill_stops_within_the_reads_in_flight_not_at_the_end_of_the_step()
    {
        var maxPage = new ModelCatalog(_data).Get("m").MaxPageBytes;
        await using var engine = new Vib3Engine(new EngineOptions(_data, PageStore.MinimumRamBudget(maxPage) + 2L * maxPage));
        await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "a", 1), ChoiceOptions.Default)); // opens the model

        // The same step uncancelled: how long it takes and how many pages it reads.
        var pages = Misses(engine);
        var clock = Stopwatch.StartNew();
        var whole = await engine.Generations.StartAsync(Plan(engine, Prompt, 1), ChoiceOptions.Default);
        Assert.Equal(ForwardPass.MaxBatchRows, whole.PromptTokens); // one full step
        await ReadAsync(whole);
        var stepTime = clock.Elapsed;
        var stepPages = Misses(engine) - pages;
        Assert.True(stepPages > 20 * PagesInFlight, $"the step read only {stepPages} pages");

        // Cancelled a quarter of the way through its pages.
        pages = Misses(engine);
        var stream = await engine.Generations.StartAsync(Plan(engine, Prompt, 1), ChoiceOptions.Default);
        var deadline = Stopwatch.StartNew();
        while (Misses(engine) - pages < stepPages / 4 && deadline.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(1);
        var atCancel = Misses(engine);
        Assert.True(atCancel - pages < stepPages, "the step was still running when cancelled");
        clock.Restart();
        stream.Cancel();
        while (engine.Generations.Running > 0 && clock.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(1);
        var stopTime = clock.Elapsed;
        Assert.Equal(0, engine.Generations.Running);
        var afterCancel = Misses(engine) - atCancel;

        Assert.True(afterCancel <= PagesInFlight,
            $"{afterCancel} pages read after the cancel (the step reads {stepPages}; {atCancel - pages} before the cancel)");
        Assert.True(stopTime < stepTime / 4, $"the step ended {stopTime.TotalMilliseconds:F0} ms after its cancel; uncancelled it takes {stepTime.TotalMilliseconds:F0} ms");

        // The model still serves: the cancelled step left nothing behind.
        var after = await ReadAsync(await engine.Generations.StartAsync(Plan(engine, "a", 1), ChoiceOptions.Default));
        Assert.NotNull(after.Finished[0]);
    }
}
