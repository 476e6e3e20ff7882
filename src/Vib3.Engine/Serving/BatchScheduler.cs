using System.Diagnostics;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Tokenization;
using Vib3.Storage.Tracing;

namespace Vib3.Engine.Serving;

/// <summary>Continuous batching for one model. A single loop runs batched forward steps; between steps sequences
/// join (up to <c>maxBatch</c>) and leave (finished or cancelled) without waiting for each other. Each step holds
/// one row per decoding sequence plus chunks of prompts being prefilled, up to <see cref="ForwardPass.MaxBatchRows"/>
/// rows, so a long prompt never stalls the others for more than one chunk. Requests beyond the batch wait in a
/// bounded queue; past it they are refused (53000). A cancelled sequence leaves at the end of the running step, or
/// within a page of the cancel when no one else in the step is left (see <see cref="StepCancellation"/>).</summary>
internal sealed class BatchScheduler
{
    private readonly string _model;
    private readonly ForwardPass _forward;
    private readonly ITextTokenizer _tokenizer;
    private readonly int _maxBatch;
    private readonly int _maxQueue;
    private readonly object _gate = new();
    private readonly Queue<Sequence> _waiting = new(); // requests (their first choice, followers attached); guarded by _gate
    private int _waitingCount;                         // sequences in _waiting, followers included; guarded by _gate
    private readonly Queue<(Func<Task> Run, Action<Exception> Fail)> _alone = new(); // work needing the pass to itself; guarded by _gate
    private readonly List<Sequence> _running = [];     // the loop's own
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Task _loop;
    private readonly object _stepGate = new();
    private StepCancellation? _step;                    // the step running now; guarded by _stepGate
    private Exception? _closedBecause;                  // guarded by _gate
    private int _runningCount;
    private long _steps, _rows, _generated, _prompt;

    private readonly KvCacheType _kvCache;
    private readonly PageTraceWriter? _trace;

    /// <param name="trace">The model's page trace, if one is recorded: each step is marked in it.</param>
    public BatchScheduler(string model, ForwardPass forward, ITextTokenizer tokenizer, int maxBatch, int maxQueue, KvCacheType kvCache,
        PageTraceWriter? trace = null)
    {
        _trace = trace;
        _model = model;
        _forward = forward;
        _tokenizer = tokenizer;
        _kvCache = kvCache;
        _maxBatch = maxBatch;
        _maxQueue = maxQueue;
        _loop = Task.Run(LoopAsync);
    }

    public int Waiting { get { lock (_gate) return _waitingCount; } }

    public int Running => Volatile.Read(ref _runningCount);

    /// <summary>Batched forward steps run so far, and the rows they held in total.</summary>
    public (long Steps, long Rows, long GeneratedTokens, long PromptTokens) Counters =>
        (Interlocked.Read(ref _steps), Interlocked.Read(ref _rows), Interlocked.Read(ref _generated), Interlocked.Read(ref _prompt));

    /// <summary>Queues a request (its first choice, the others attached as followers), or refuses it when the batch
    /// and the queue are full.</summary>
    public void Enqueue(Sequence request)
    {
        var count = 1 + request.Followers.Count;
        lock (_gate)
        {
            if (_closedBecause is { } closed) throw closed;
            if (count > _maxBatch)
                throw new Vib3Exception(SqlState.InvalidParameterValue, $"{count} choices exceed the batch of {_maxBatch} sequences");
            if (_waitingCount + Running + count > _maxBatch + _maxQueue)
                throw new Vib3Exception(SqlState.InsufficientResources,
                    $"model '{_model}' is at capacity ({_maxBatch} sequences running, {_maxQueue} queued); try again later");
            _waiting.Enqueue(request);
            _waitingCount += count;
        }
        Wake();
    }

    /// <summary>Runs <paramref name="work"/> on the model's forward pass between two steps, with nothing else using the
    /// pass meanwhile (the pass has one caller: this loop). For work that is not a generation, such as logits. The work's
    /// token is cancelled when the caller's is or the scheduler closes; work whose caller gave up before its turn is
    /// not run.</summary>
    public Task<T> RunAloneAsync<T>(Func<ForwardPass, CancellationToken, ValueTask<T>> work, CancellationToken ct)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_closedBecause is { } closed) throw closed;
            _alone.Enqueue((async () =>
            {
                if (ct.IsCancellationRequested)
                {
                    done.TrySetCanceled(ct);
                    return;
                }
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _shutdown.Token);
                try { done.TrySetResult(await work(_forward, linked.Token).ConfigureAwait(false)); }
                catch (OperationCanceledException) when (linked.IsCancellationRequested) { done.TrySetCanceled(ct.IsCancellationRequested ? ct : linked.Token); }
                catch (Exception e) { done.TrySetException(e); }
            }, e => done.TrySetException(e)));
        }
        Wake();
        return done.Task.WaitAsync(ct);
    }

    /// <summary>Something changed for the loop: a request queued, or a client went away (then the running step stops
    /// at its next page if no one in it is left waiting).</summary>
    public void Wake()
    {
        lock (_stepGate) _step?.Check();
        _signal.Release();
    }

    private async Task LoopAsync()
    {
        var ct = _shutdown.Token;
        while (!ct.IsCancellationRequested)
        {
            await RunAloneWorkAsync().ConfigureAwait(false);
            Admit();
            Retire(s => s.Cancelled);
            if (_running.Count == 0)
            {
                if (HasAloneWork) continue;
                try { await _signal.WaitAsync(ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            try
            {
                await StepAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // A fault outside the forward step (sampling, decoding, bookkeeping) must not kill the loop every
                // model's requests depend on: the sequences in the batch fail with it, the loop goes on.
                foreach (var s in _running) s.Stream.Fail(e);
                Retire(_ => true);
            }
        }
    }

    private bool HasAloneWork
    {
        get { lock (_gate) return _alone.Count > 0; }
    }

    /// <summary>Runs the work queued by <see cref="RunAloneAsync"/> before this turn of the loop, one at a time (work
    /// queued meanwhile waits for the next turn, so a stream of it cannot starve the batch).</summary>
    private async Task RunAloneWorkAsync()
    {
        int queued;
        lock (_gate) queued = _alone.Count;
        for (var i = 0; i < queued; i++)
        {
            Func<Task> run;
            lock (_gate)
            {
                if (!_alone.TryDequeue(out var work)) return;
                run = work.Run;
            }
            await run().ConfigureAwait(false);
        }
    }

    /// <summary>Moves queued requests into the batch, first come first served, while all of a request's choices fit;
    /// each sequence gets its KV cache now, not while it waits.</summary>
    private void Admit()
    {
        var h = _forward.Hyper;
        lock (_gate)
            while (_waiting.TryPeek(out var request) && _running.Count + 1 + request.Followers.Count <= _maxBatch)
            {
                _waiting.Dequeue();
                _waitingCount -= 1 + request.Followers.Count;
                if (request.Cancelled) continue;
                foreach (var s in request.Followers.Prepend(request))
                {
                    s.Cache = KvCache.For(h, s.Capacity, _kvCache);
                    s.Phase = s.Leader is null ? SequencePhase.Prefilling : SequencePhase.AwaitingLeader;
                    _running.Add(s);
                }
            }
        Volatile.Write(ref _runningCount, _running.Count);
    }

    /// <summary>Removes the sequences that match, dropping their caches.</summary>
    private void Retire(Func<Sequence, bool> leaving)
    {
        for (var i = _running.Count - 1; i >= 0; i--)
        {
            var s = _running[i];
            if (!leaving(s)) continue;
            if (s.Cache is { } cache) _forward.Release(cache); // its KV cache's mirror in VRAM, if any, goes now
            s.Cache = null;
            if (s.Phase != SequencePhase.Finished) s.Phase = SequencePhase.Finished;
            _running.RemoveAt(i);
        }
        Volatile.Write(ref _runningCount, _running.Count);
    }

    /// <summary>One batched step: a row per decoding sequence, then prompt chunks to fill the rest; then each
    /// sequence whose last row was in the step samples its next token.</summary>
    private async Task StepAsync(CancellationToken ct)
    {
        var rows = new List<StepRow>(ForwardPass.MaxBatchRows);
        var sampled = new List<(Sequence Sequence, int Row)>();
        var fed = new List<(Sequence Sequence, int Count)>();
        foreach (var s in _running)
            if (s.Phase == SequencePhase.Decoding)
            {
                rows.Add(new StepRow(s.State.NextInput, s.Cache!, s.Cache!.Length, s.Stream.Routing, s.Program, s.Index, s.Stream.Actuals));
                sampled.Add((s, rows.Count - 1));
            }
        foreach (var s in _running)
        {
            if (s.Phase != SequencePhase.Prefilling || rows.Count == ForwardPass.MaxBatchRows) continue;
            var take = Math.Min(ForwardPass.MaxBatchRows - rows.Count, s.Prompt.Count - s.Fed);
            for (var i = 0; i < take; i++) rows.Add(new StepRow(s.Prompt[s.Fed + i], s.Cache!, s.Fed + i, s.Stream.Routing, s.Program, s.Index, s.Stream.Actuals,
                StepPhase.Prefill));
            fed.Add((s, take));
            if (s.Fed + take == s.Prompt.Count) sampled.Add((s, rows.Count - 1));
        }
        if (rows.Count == 0) return;

        float[][] logits;
        var inStep = sampled.Select(x => x.Sequence).Concat(fed.Select(x => x.Sequence)).Distinct();
        using (var step = new StepCancellation(inStep, ct))
        {
            // Published before the check, under the lock Wake takes: a cancel that came just before is seen by the
            // check, one that comes after finds the step.
            lock (_stepGate)
            {
                _step = step;
                step.Check();
            }
            try
            {
                _trace?.MarkStep();
                logits = await _forward.StepAsync(rows, sampled.Select(x => x.Row).ToArray(), step.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (step.Token.IsCancellationRequested)
            {
                // Shutdown, or every sequence in the step was cancelled: the step stopped at a page and left the
                // caches as they were.
                Retire(s => s.Cancelled);
                return;
            }
            catch (Exception e)
            {
                // The step is all or nothing: every sequence in it fails with the engine's error; the others go on.
                var failed = rows.Select(r => r.Cache).ToHashSet();
                foreach (var s in _running.Where(s => s.Cache is not null && failed.Contains(s.Cache))) s.Stream.Fail(e);
                Retire(s => s.Cancelled);
                return;
            }
            finally
            {
                lock (_stepGate) _step = null;
            }
        }
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _rows, rows.Count);
        foreach (var (s, count) in fed)
        {
            s.Fed += count;
            Interlocked.Add(ref _prompt, count);
        }
        for (var i = 0; i < sampled.Count; i++)
        {
            var s = sampled[i].Sequence;
            if (s.Phase == SequencePhase.Prefilling)
                foreach (var f in s.Followers.Where(f => f.Phase == SequencePhase.AwaitingLeader))
                {
                    f.Cache!.CopyPrefixFrom(s.Cache!, s.Fed);
                    f.Fed = s.Fed;
                    Sample(f, (float[])logits[i].Clone());
                }
            Sample(s, logits[i]);
        }
        Retire(s => s.Phase == SequencePhase.Finished || s.Cancelled);
    }

    /// <summary>Samples a sequence's next token from its logits and publishes what became final.</summary>
    private void Sample(Sequence s, float[] logits)
    {
        if (s.Cancelled) return;
        var first = s.Phase != SequencePhase.Decoding;
        var before = s.State.Generated;
        var start = Stopwatch.GetTimestamp();
        var text = s.State.Accept(logits);
        // The program's last operator, Sample, runs here, a row of one sequence at a time.
        s.Stream.Actuals?.Add(s.Program.Operators[^1].Id, first ? StepPhase.Prefill : StepPhase.Decode,
            new OperatorFigures(1, 1, Stopwatch.GetElapsedTime(start), default, 0, TimeSpan.Zero));
        if (first) s.TimeToFirstToken = s.Elapsed;
        if (!s.State.Finished && s.Cache!.Length >= s.Cache.Capacity) text += s.State.EndForFullContext();
        if (s.State.LastSampled is { } t) s.PendingLogprobs.Add(Describe(t));
        Interlocked.Add(ref _generated, s.State.Generated - before);
        if (text.Length > 0 || (s.State.Finished && s.PendingLogprobs.Count > 0))
        {
            s.Stream.Publish(new TextDelta(s.Choice, text, [.. s.PendingLogprobs]));
            s.PendingLogprobs.Clear();
        }
        if (s.State.Finished)
        {
            s.Phase = SequencePhase.Finished;
            s.Stream.Publish(new ChoiceFinished(s.Choice, s.State.FinishReason, s.State.Generated, s.TimeToFirstToken, s.Elapsed));
        }
        else
            s.Phase = SequencePhase.Decoding;
    }

    private TokenLogprob Describe(SampledToken t) => new(t.Id, _tokenizer.DecodeToken(t.Id), _tokenizer.TokenBytes(t.Id).ToArray(), t.Logprob,
        t.Top.Select(a => new TokenAlternative(a.Id, _tokenizer.DecodeToken(a.Id), _tokenizer.TokenBytes(a.Id).ToArray(), a.Logprob)).ToArray());

    /// <summary>Stops the loop for good; queued and running sequences fail with <paramref name="reason"/>. The wake
    /// signal is left undisposed (it holds no handle): streams handed out earlier may still call <see cref="Wake"/>
    /// when their clients go away.</summary>
    public async Task CloseAsync(Exception reason)
    {
        lock (_gate) _closedBecause ??= reason;
        await _shutdown.CancelAsync().ConfigureAwait(false);
        try { await _loop.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        lock (_gate)
        {
            foreach (var s in _waiting) s.Stream.Fail(reason);
            _waiting.Clear();
            _waitingCount = 0;
        }
        lock (_gate)
            while (_alone.TryDequeue(out var work)) work.Fail(reason);
        foreach (var s in _running) s.Stream.Fail(reason);
        Retire(_ => true);
    }
}
