using Vib3.Server.Http.Api;

namespace Vib3.Server.Http.Hosting;

/// <summary>Whether the models to preload are warm: until then /health and the generation endpoints answer 503
/// (load balancers and clients wait instead of timing out on a cold first request).</summary>
internal sealed class Readiness
{
    private Task _warming = Task.CompletedTask;

    public void Begin(Func<Task> warm) => _warming = Task.Run(warm);

    public bool IsReady => _warming.IsCompletedSuccessfully;

    /// <summary>"ok", "loading", or why loading failed (the server then stays unready).</summary>
    public string Describe() => _warming.Status switch
    {
        TaskStatus.RanToCompletion => "ok",
        TaskStatus.Faulted => "preloading failed: " + _warming.Exception!.GetBaseException().Message,
        TaskStatus.Canceled => "stopped while loading",
        _ => "loading",
    };

    public void ThrowIfNotReady()
    {
        if (!IsReady) throw ApiException.NotReady($"the server is not ready ({Describe()})");
    }
}
