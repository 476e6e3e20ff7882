using Microsoft.Extensions.Hosting;

namespace Vib3.Server.Http.Hosting;

/// <summary>The host's lifetime when the server is one part of a process that owns its signals (`vib3 serve`):
/// unlike the default console lifetime it registers no SIGINT/SIGTERM handler, which would swallow the signal
/// (it cancels the default termination) and only stop this host, leaving the process serving the other protocol
/// and never returning to the code that decides how the whole process stops.</summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
