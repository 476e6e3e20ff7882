using System.Diagnostics;
using Vib3.Models.Inference;

namespace Vib3.Engine.Serving;

/// <summary>Where a sequence is in its life inside the batch.</summary>
internal enum SequencePhase
{
    /// <summary>Queued; holds no KV cache yet.</summary>
    Waiting,
    /// <summary>Its prompt is being fed, a chunk per step.</summary>
    Prefilling,
    /// <summary>Another choice of the same request prefills the shared prompt; this one copies its cache after.</summary>
    AwaitingLeader,
    /// <summary>One new token per step.</summary>
    Decoding,
    Finished,
}

/// <summary>One choice of a request as the scheduler runs it: the prompt, how much of it has been fed, its own KV
/// cache (allocated when it joins the batch, dropped when it leaves) and its sampling state.</summary>
internal sealed class Sequence(GenerationStream stream, int choice, IReadOnlyList<int> prompt, int capacity, GenerationState state, Sequence? leader)
{
    public GenerationStream Stream { get; } = stream;

    public int Choice { get; } = choice;

    /// <summary>The prompt's token ids [promptTokens].</summary>
    public IReadOnlyList<int> Prompt { get; } = prompt;

    /// <summary>KV positions this sequence may use: min(context, prompt + max tokens).</summary>
    public int Capacity { get; } = capacity;

    public GenerationState State { get; } = state;

    /// <summary>The first choice of the request, which prefills the prompt for all of them; null for the first itself.</summary>
    public Sequence? Leader { get; } = leader;

    /// <summary>The choices that wait for this one's prefill.</summary>
    public List<Sequence> Followers { get; } = [];

    public SequencePhase Phase { get; set; } = SequencePhase.Waiting;

    /// <summary>Its statement's forward program (the plan's), which its rows run.</summary>
    public required ForwardProgram Program { get; init; }

    /// <summary>The page index its retrieval searches, taken when it started (<see cref="ModelIndex"/>).</summary>
    public Vib3.Models.Retrieval.PageIndex? Index { get; init; }

    /// <summary>Null until the sequence joins the batch, and again once it leaves.</summary>
    public KvCache? Cache { get; set; }

    /// <summary>Prompt tokens already in the cache.</summary>
    public int Fed { get; set; }

    /// <summary>Log-probabilities of tokens whose text has not been emitted yet.</summary>
    public List<TokenLogprob> PendingLogprobs { get; } = [];

    public TimeSpan TimeToFirstToken { get; set; }

    public bool Cancelled => Stream.Cancelled;

    public TimeSpan Elapsed => Stream.Clock.Elapsed;
}
