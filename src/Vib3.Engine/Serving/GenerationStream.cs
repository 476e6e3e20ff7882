using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Vib3.Models.Tokenization;
using Vib3.Models.Inference;

namespace Vib3.Engine.Serving;

/// <summary>A submitted generation: its choices run in the model's shared batch; their events arrive here in the
/// order they happen. Disposing it (a client that went away) stops every choice still running and frees its KV
/// cache at the next step.</summary>
public sealed class GenerationStream : IAsyncDisposable
{
    private readonly Channel<GenerationEvent> _events = Channel.CreateUnbounded<GenerationEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Action _wake;
    private int _open;
    private volatile bool _cancelled;

    internal GenerationStream(string model, int promptTokens, int choices, RoutingStats routing, Action wake)
    {
        Model = model;
        PromptTokens = promptTokens;
        Routing = routing;
        _open = choices;
        _wake = wake;
    }

    public string Model { get; }

    public int PromptTokens { get; }

    /// <summary>Each choice's sampler seed (drawn when the request gave none), so a run can be repeated.</summary>
    public IReadOnlyList<ulong> Seeds { get; internal set; } = [];

    /// <summary>The experts this generation's tokens chose, per layer (all choices together).</summary>
    public RoutingStats Routing { get; }

    /// <summary>Each operator's figures for this statement's rows (<see cref="ChoiceOptions.Analyze"/>); null when not asked.</summary>
    public StatementActuals? Actuals { get; internal init; }

    /// <summary>For a chat prompt, which template rendered it (the model's own, or the built-in format and why);
    /// null for a text prompt.</summary>
    public ChatRender? ChatTemplate { get; internal init; }

    internal Stopwatch Clock { get; } = Stopwatch.StartNew();

    internal bool Cancelled => _cancelled;

    /// <summary>Events of every choice, interleaved; ends when all choices finished. An engine failure (a corrupt page,
    /// the model dropped) is thrown here.</summary>
    public async IAsyncEnumerable<GenerationEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var e in _events.Reader.ReadAllAsync(ct).ConfigureAwait(false)) yield return e;
    }

    internal void Publish(GenerationEvent e)
    {
        _events.Writer.TryWrite(e);
        if (e is ChoiceFinished && Interlocked.Decrement(ref _open) == 0) _events.Writer.TryComplete();
    }

    internal void Fail(Exception error)
    {
        _cancelled = true;
        _events.Writer.TryComplete(error);
    }

    /// <summary>Stops the choices still running; the scheduler frees their caches at its next step.</summary>
    public void Cancel()
    {
        if (_cancelled) return;
        _cancelled = true;
        _events.Writer.TryComplete();
        _wake();
    }

    public ValueTask DisposeAsync()
    {
        Cancel();
        return ValueTask.CompletedTask;
    }
}
