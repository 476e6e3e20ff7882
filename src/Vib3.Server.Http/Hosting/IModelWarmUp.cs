using Vib3.Engine;

namespace Vib3.Server.Http.Hosting;

/// <summary>How the server makes a preloaded model ready before /health says ok. The default opens it for serving
/// (<see cref="EngineWarmUp"/>); another may do more first (read hot pages, wait for a slow volume to mount).</summary>
public interface IModelWarmUp
{
    Task WarmUpAsync(Vib3Engine engine, string model, CancellationToken ct);
}

/// <summary>Opens the model for serving: its store, its norms, its tokenizer.</summary>
public sealed class EngineWarmUp : IModelWarmUp
{
    public static readonly EngineWarmUp Instance = new();

    public Task WarmUpAsync(Vib3Engine engine, string model, CancellationToken ct) => engine.Generations.WarmUpAsync(model, ct);
}
