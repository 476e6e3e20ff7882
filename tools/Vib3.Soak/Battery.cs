using System.Diagnostics;

namespace Vib3.Soak;

/// <summary>Runs cases one after another against live servers and judges each: the case's own outcome, then whether
/// the server is alive and answers /health and psql's SELECT 1 within the probe deadline, and its memory (sampled
/// throughout; past the cap the server is killed). A server a case left crashed, hung or bloated is replaced by a
/// fresh one, so every case is judged on its own.</summary>
internal sealed class Battery(VibCli cli, string scratch, string password) : IAsyncDisposable
{
    /// <summary>How long a server that stopped answering may take to exit before it counts as hung rather than crashed.</summary>
    private static readonly TimeSpan DyingGrace = TimeSpan.FromSeconds(5);

    private VibServer? _plain;
    private VibServer? _guarded;

    public async Task<CaseResult> RunAsync(SoakCase c)
    {
        var server = await ServerAsync(c.NeedsPassword);
        var before = server.RssBytes;
        var clock = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource(c.Deadline);
        using var stopSampling = new CancellationTokenSource();
        var sampler = RssSampler.SampleAsync(server, stopSampling.Token);
        var dir = Directory.CreateDirectory(Path.Combine(scratch, c.Name)).FullName;
        Seen seen;
        try
        {
            seen = await c.RunAsync(new CaseContext(server, cli, dir, cancel.Token)).WaitAsync(c.Deadline);
        }
        catch (TimeoutException)
        {
            seen = new Seen(Outcome.Hang, $"no result within {c.Deadline.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is OperationCanceledException && cancel.IsCancellationRequested)
        {
            seen = new Seen(Outcome.Hang, $"no result within {c.Deadline.TotalSeconds:0} s");
        }
        catch (Exception e)
        {
            seen = Seen.Unclean($"{e.GetType().Name}: {e.Message}");
        }
        // memory is watched through the probes too: a server still growing after the case is killed at the cap
        var answers = await server.HealthyAsync() && await server.SelectOneAsync();
        await stopSampling.CancelAsync();
        var (peak, killedForMemory) = await sampler;
        // a dying runtime may still be printing a 20,000-frame stack trace: give it time to finish exiting
        if (!answers) await server.Process.WaitForExitAsync().WaitAsync(DyingGrace).ContinueWith(_ => { });
        var alive = !server.HasExited;
        var after = server.RssBytes;
        peak = Math.Max(peak, after ?? 0);
        var retained = before is { } b && after is { } a && a - b > Limits.RetainedGrowthBytes;
        var crash = seen.Outcome == Outcome.Crash || (!alive && !killedForMemory);
        var memory = seen.Outcome == Outcome.Memory || killedForMemory || retained;
        var hang = seen.Outcome == Outcome.Hang || (alive && !answers && !killedForMemory);
        if (killedForMemory)
            seen = seen with { Detail = $"server killed at the {ProcessMemory.Mb(Limits.MemoryCapBytes)} MB cap; case saw: {seen.Detail}" };
        else if (!alive)
            seen = seen with { Detail = $"server died (exit {server.Process.ExitCode}): {Text.FatalLine(await server.OutputAsync())}; case saw: {seen.Detail}" };
        else if (alive && !answers)
            seen = seen with { Detail = $"server alive but /health or SELECT 1 unanswered; case saw: {seen.Detail}" };
        var result = new CaseResult(c, seen, crash, hang, memory, before, after, peak, clock.Elapsed);
        if (!result.Clean) await ReplaceAsync(c.NeedsPassword);
        return result;
    }

    private async Task<VibServer> ServerAsync(bool guarded)
    {
        if (guarded) return _guarded ??= await VibServer.StartAsync(cli, password);
        return _plain ??= await VibServer.StartAsync(cli, null);
    }

    private async Task ReplaceAsync(bool guarded)
    {
        if (guarded && _guarded is { } g) { await g.DisposeAsync(); _guarded = null; }
        if (!guarded && _plain is { } p) { await p.DisposeAsync(); _plain = null; }
    }

    public async ValueTask DisposeAsync()
    {
        await ReplaceAsync(true);
        await ReplaceAsync(false);
    }
}
