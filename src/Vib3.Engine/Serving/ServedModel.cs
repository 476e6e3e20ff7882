using Vib3.Models.Inference;
using Vib3.Models.Tokenization;
using Vib3.Models.Weights;
using Vib3.Storage;

namespace Vib3.Engine.Serving;

/// <summary>A model open for generation: one page store (in the engine's page pool, whose RAM budget every open model
/// shares) and one forward pass shared by every front end and every sequence, run by its batch scheduler.</summary>
internal sealed class ServedModel : IAsyncDisposable
{
    private static long s_opened;

    private ServedModel(ForwardPass forward, ITextTokenizer tokenizer, BatchScheduler scheduler, ModelIndex index)
    {
        Index = index;
        Forward = forward;
        Tokenizer = tokenizer;
        PromptBound = PromptBound.Of(tokenizer);
        Scheduler = scheduler;
        Instance = Interlocked.Increment(ref s_opened);
    }

    /// <summary>Which opening of a model this is (process-wide, rising): a model dropped and created again, or closed
    /// and reopened, starts its counters at 0 under a new instance, so whoever copies them knows not to subtract.</summary>
    public long Instance { get; }

    /// <summary>The pass owns the weights and closes them.</summary>
    public ForwardPass Forward { get; }

    public ModelWeights Weights => Forward.Weights;

    public ITextTokenizer Tokenizer { get; }

    /// <summary>Refuses prompts too long for the context before they are tokenized.</summary>
    public PromptBound PromptBound { get; }

    public BatchScheduler Scheduler { get; }

    /// <summary>Its page index, for USING RETRIEVAL.</summary>
    public ModelIndex Index { get; }

    public static async Task<ServedModel> OpenAsync(Vib3Engine engine, string name, CancellationToken ct)
    {
        var trace = engine.Options.PageTraces.GetValueOrDefault(name);
        var forward = await ForwardPass.OpenAsync(engine.Catalog, name, new PageStoreOptions
        {
            Pool = engine.PagePool, Devices = engine.Options.StoreDevices, Trace = trace,
        }, ct, device: engine.DeviceTier).ConfigureAwait(false);
        try
        {
            var weights = forward.Weights;
            // Every token id is checked against the model's vocabulary as the tokenizer is read.
            var tokenizer = TokenizerLoader.Load(weights.TokenizerDir, weights.Manifest.Tokenizer, forward.Hyper.Vocab);
            var scheduler = new BatchScheduler(weights.Manifest.Name, forward, tokenizer, engine.Options.MaxBatch, engine.Options.MaxQueue,
                engine.Options.KvCache, trace);
            return new ServedModel(forward, tokenizer, scheduler, new ModelIndex(engine.Catalog.ModelDir(name), weights.ExpertGrids, name));
        }
        catch
        {
            forward.Dispose();
            throw;
        }
    }

    /// <summary>Fails whatever is queued or running with <paramref name="reason"/>, then closes the store.</summary>
    public async Task CloseAsync(Exception reason)
    {
        await Scheduler.CloseAsync(reason).ConfigureAwait(false);
        Forward.Dispose();
    }

    public ValueTask DisposeAsync() => new(CloseAsync(new Vib3.Core.Vib3Exception(Vib3.Core.SqlState.InsufficientResources,
        $"model '{Weights.Manifest.Name}' is closing")));
}
