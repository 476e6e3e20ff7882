using Prometheus;
using Vib3.Engine.Serving;

namespace Vib3.Server.Http.Metrics;

/// <summary>The server's Prometheus metrics, in a registry of its own (several servers may share a process, as the
/// tests do). Request and latency metrics are recorded as requests run; the engine's counters (page store tiers,
/// batch steps, queue) are copied from <see cref="GenerationService"/> just before each scrape.</summary>
internal sealed class ServerMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.001, 2, 18); // 1 ms .. ~2 min

    private readonly Counter _requests, _promptTokens, _generationTokens;
    private readonly Histogram _timeToFirstToken, _interToken, _endToEnd;
    private readonly Gauge _waiting, _running, _residentBytes, _pagesReadPerToken, _directIo;
    private readonly Gauge _ramBudget, _ramResident, _vramBudget, _vramUsed, _vramResident, _vramKvBytes, _vramFailed;
    private readonly Counter _vramHits, _vramUploads, _vramCpuPages, _vramEvictions;
    private readonly HashSet<string> _modelGauges = new(StringComparer.Ordinal); // models whose gauges are exported
    private readonly Counter _hits, _misses, _hitBytes, _bytesRead, _steps, _batchRows;
    private readonly Counter _prefetchIssued, _prefetchUsed, _routedChoices, _predictedChoices, _layerHits, _layerMisses;
    private readonly Counter _pageWaits, _pageWaitSeconds;
    private readonly EngineCounterCopy _copy = new();

    public ServerMetrics(GenerationService generations)
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        string[] model = ["model"];
        Histogram Latency(string name, string help, params string[] labels) =>
            f.CreateHistogram(name, help, labels, new HistogramConfiguration { Buckets = LatencyBuckets });

        _requests = f.CreateCounter("vib3_http_requests_total", "HTTP requests answered, by endpoint and status", ["endpoint", "status"]);
        _promptTokens = f.CreateCounter("vib3_prompt_tokens_total", "Prompt tokens of generation requests", model);
        _generationTokens = f.CreateCounter("vib3_generation_tokens_total", "Tokens generated for requests", model);
        _timeToFirstToken = Latency("vib3_time_to_first_token_seconds",
            "From submission (queueing included) to a choice's first token; outcome: finished, cancelled (the client left or the server stopped) or error (refused, the model dropped, an engine error)", "model", "outcome");
        _interToken = Latency("vib3_inter_token_latency_seconds", "Between consecutive text deltas of a choice", "model");
        _endToEnd = Latency("vib3_e2e_request_latency_seconds",
            "From submission to a choice's end, whatever the outcome: finished, cancelled (the client left or the server stopped) or error (refused, the model dropped, an engine error)", "model", "outcome");
        _waiting = f.CreateGauge("vib3_requests_waiting", "Sequences queued for a place in a batch");
        _running = f.CreateGauge("vib3_requests_running", "Sequences in the running batches");
        _hits = f.CreateCounter("vib3_tier_hits_total", "Page reads served from RAM", model);
        _misses = f.CreateCounter("vib3_tier_misses_total", "Page reads that went to disk", model);
        _hitBytes = f.CreateCounter("vib3_tier_hit_bytes_total", "Bytes of pages served from RAM", model);
        _bytesRead = f.CreateCounter("vib3_tier_read_bytes_total", "Bytes of pages read from disk", model);
        _residentBytes = f.CreateGauge("vib3_tier_resident_bytes", "Bytes of the model's pages held in RAM (its part of vib3_ram_resident_bytes)", model);
        _ramBudget = f.CreateGauge("vib3_ram_budget_bytes", "The engine-wide RAM budget for pages (--ram-budget), shared by every open model");
        _ramResident = f.CreateGauge("vib3_ram_resident_bytes", "Bytes of pages the engine holds in RAM, every open model's together (never above vib3_ram_budget_bytes)");
        var absentUntilSet = new GaugeConfiguration { SuppressInitialValue = true }; // no device: no VRAM figures at all, rather than zeros
        _vramBudget = f.CreateGauge("vib3_vram_budget_bytes", "The engine-wide VRAM budget (--vram-budget); absent without a device", absentUntilSet);
        _vramUsed = f.CreateGauge("vib3_vram_used_bytes", "Bytes of the VRAM budget the open models hold: resident matrices, their sequences' KV caches and expert caches' slots, filled or not",
            absentUntilSet);
        _vramResident = f.CreateGauge("vib3_vram_resident_bytes", "Bytes of the model's weights resident in VRAM: its dense matrices and the expert pages cached", model);
        _vramKvBytes = f.CreateGauge("vib3_vram_kv_cache_bytes", "Bytes of the model's sequences' KV caches mirrored in VRAM, where attention runs over them", model);
        _vramFailed = f.CreateGauge("vib3_vram_failed", "1 when the model gave its device up after a failure (the CPU runs every operator since), else 0", model);
        _vramHits = f.CreateCounter("vib3_vram_expert_hits_total", "Expert pages run on the device where they were resident", model);
        _vramUploads = f.CreateCounter("vib3_vram_expert_uploads_total", "Expert pages uploaded to the VRAM cache, then run there", model);
        _vramCpuPages = f.CreateCounter("vib3_vram_expert_cpu_pages_total", "Expert pages not resident in VRAM and computed on the CPU from RAM", model);
        _vramEvictions = f.CreateCounter("vib3_vram_expert_evictions_total", "Expert pages evicted from the VRAM cache", model);
        _pagesReadPerToken = f.CreateGauge("vib3_pages_read_per_token", "Pages read from disk per generated token", model);
        _directIo = f.CreateGauge("vib3_direct_io", "1 when the model's pages are read with O_DIRECT, 0 when the device refused it and reads go through the OS cache", model);
        _steps = f.CreateCounter("vib3_batch_steps_total", "Batched forward steps", model);
        _batchRows = f.CreateCounter("vib3_batch_rows_total", "Rows of those steps (rows / steps = mean batch)", model);
        _prefetchIssued = f.CreateCounter("vib3_prefetch_pages_total", "Expert pages read ahead for the next layer", model);
        _prefetchUsed = f.CreateCounter("vib3_prefetch_used_pages_total", "Prefetched pages a read then used", model);
        _pageWaits = f.CreateCounter("vib3_page_waits_total", "Times the forward pass had no page ready to compute on", model);
        _pageWaitSeconds = f.CreateCounter("vib3_page_wait_seconds_total", "Time the forward pass stalled with no page ready", model);
        _routedChoices = f.CreateCounter("vib3_routed_choices_total", "Expert choices in layers whose choice was predicted one layer ahead", model);
        _predictedChoices = f.CreateCounter("vib3_predicted_choices_total", "Of those, the choices the prediction named (accuracy = predicted / routed)", model);
        _layerHits = f.CreateCounter("vib3_expert_page_hits_total", "Expert-page reads served from RAM, by layer", ["model", "layer"]);
        _layerMisses = f.CreateCounter("vib3_expert_page_misses_total", "Expert-page reads that went to disk, by layer", ["model", "layer"]);
        Registry.AddBeforeCollectCallback(() => CopyEngineStats(generations));
    }

    public CollectorRegistry Registry { get; }

    public void Request(string endpoint, int status) => _requests.WithLabels(endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();

    /// <summary>Records one request's generation on <paramref name="model"/> as it goes, from its submission on.</summary>
    internal GenerationObserver Observe(string model, int choices) => new(this, model, choices);

    private void CopyEngineStats(GenerationService generations)
    {
        _waiting.Set(generations.Waiting);
        _running.Set(generations.Running);
        var budget = generations.RamBudget;
        _ramBudget.Set(budget.CapacityBytes);
        _ramResident.Set(budget.ResidentBytes);
        if (generations.VramBudget is var (vramBudget, vramUsed))
        {
            _vramBudget.Set(vramBudget);
            _vramUsed.Set(vramUsed);
        }
        var stats = generations.Stats();
        // A closed (dropped) model's gauges go: they would go on showing what it held. Its counters stay, as counters do.
        foreach (var gone in _modelGauges.Except(stats.Select(s => s.Model)).ToArray())
        {
            _residentBytes.RemoveLabelled(gone);
            _pagesReadPerToken.RemoveLabelled(gone);
            _directIo.RemoveLabelled(gone);
            _vramResident.RemoveLabelled(gone);
            _vramKvBytes.RemoveLabelled(gone);
            _vramFailed.RemoveLabelled(gone);
            _modelGauges.Remove(gone);
        }
        foreach (var s in stats)
        {
            _modelGauges.Add(s.Model);
            // the engine's counters are cumulative since the model opened: carry them over, never backwards, and
            // across a reopening (a new instance counts from 0)
            _copy.Copy(_hits.WithLabels(s.Model), s.Instance, s.Tiers.Hits);
            _copy.Copy(_misses.WithLabels(s.Model), s.Instance, s.Tiers.Misses);
            _copy.Copy(_hitBytes.WithLabels(s.Model), s.Instance, s.Tiers.HitBytes);
            _copy.Copy(_bytesRead.WithLabels(s.Model), s.Instance, s.Tiers.BytesRead);
            _copy.Copy(_steps.WithLabels(s.Model), s.Instance, s.Steps);
            _copy.Copy(_batchRows.WithLabels(s.Model), s.Instance, s.BatchRows);
            _residentBytes.WithLabels(s.Model).Set(s.Tiers.ResidentBytes);
            _pagesReadPerToken.WithLabels(s.Model).Set(s.PagesReadPerToken);
            _directIo.WithLabels(s.Model).Set(s.DirectIo ? 1 : 0);
            _copy.Copy(_prefetchIssued.WithLabels(s.Model), s.Instance, s.Prefetches.Issued);
            _copy.Copy(_prefetchUsed.WithLabels(s.Model), s.Instance, s.Prefetches.Used);
            _copy.Copy(_pageWaits.WithLabels(s.Model), s.Instance, s.PageWaits.Waits);
            _copy.Copy(_pageWaitSeconds.WithLabels(s.Model), s.Instance, s.PageWaits.Seconds);
            _copy.Copy(_routedChoices.WithLabels(s.Model), s.Instance, s.RoutedChoices);
            _copy.Copy(_predictedChoices.WithLabels(s.Model), s.Instance, s.PredictedChoices);
            if (s.Vram is { } vram)
            {
                _vramResident.WithLabels(s.Model).Set(vram.ResidentBytes);
                _vramKvBytes.WithLabels(s.Model).Set(vram.KvBytes);
                _vramFailed.WithLabels(s.Model).Set(vram.Failure is null ? 0 : 1);
                _copy.Copy(_vramHits.WithLabels(s.Model), s.Instance, vram.Experts.Hits);
                _copy.Copy(_vramUploads.WithLabels(s.Model), s.Instance, vram.Experts.Uploads);
                _copy.Copy(_vramCpuPages.WithLabels(s.Model), s.Instance, vram.Experts.CpuPages);
                _copy.Copy(_vramEvictions.WithLabels(s.Model), s.Instance, vram.Experts.Evictions);
            }
            foreach (var layer in s.ExpertTiersByLayer)
            {
                var label = layer.Layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
                _copy.Copy(_layerHits.WithLabels(s.Model, label), s.Instance, layer.Hits);
                _copy.Copy(_layerMisses.WithLabels(s.Model, label), s.Instance, layer.Misses);
            }
        }
    }

    /// <summary>Latency and token metrics of one request, fed its events; <see cref="End"/> records the choices that
    /// never finished (a cancelled or failed request), so every request is in the latency histograms, labelled by
    /// outcome.</summary>
    internal sealed class GenerationObserver(ServerMetrics metrics, string model, int choices)
    {
        private const string Finished = "finished", Cancelled = "cancelled", Error = "error";

        private readonly long _submitted = System.Diagnostics.Stopwatch.GetTimestamp();
        private readonly long[] _lastDelta = new long[choices];
        private readonly bool[] _finished = new bool[choices];
        private readonly long[] _firstDelta = new long[choices];
        private bool _failed;

        /// <summary>The engine accepted the request: its prompt is counted.</summary>
        public void Started(GenerationStream stream) => metrics._promptTokens.WithLabels(model).Inc(stream.PromptTokens);

        /// <summary>The request ended with an error rather than by its client or the server stopping.</summary>
        public void Failed() => _failed = true;

        public void Observe(GenerationEvent e)
        {
            switch (e)
            {
                case TextDelta d:
                    var now = System.Diagnostics.Stopwatch.GetTimestamp();
                    if (_firstDelta[d.Choice] == 0) _firstDelta[d.Choice] = now;
                    if (_lastDelta[d.Choice] != 0)
                        metrics._interToken.WithLabels(model).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(_lastDelta[d.Choice], now).TotalSeconds);
                    _lastDelta[d.Choice] = now;
                    break;
                case ChoiceFinished f:
                    _finished[f.Choice] = true;
                    metrics._generationTokens.WithLabels(model).Inc(f.CompletionTokens);
                    if (f.CompletionTokens > 0) metrics._timeToFirstToken.WithLabels(model, Finished).Observe(f.TimeToFirstToken.TotalSeconds);
                    metrics._endToEnd.WithLabels(model, Finished).Observe(f.Elapsed.TotalSeconds);
                    break;
            }
        }

        /// <summary>The request is over: a choice that did not finish was cancelled, or failed; its latencies are
        /// measured here (from when the request was submitted, as the engine's are).</summary>
        public void End()
        {
            var outcome = _failed ? Error : Cancelled;
            for (var c = 0; c < _finished.Length; c++)
            {
                if (_finished[c]) continue;
                // the first delta's time stands for the first token's (the time of the token itself is the engine's)
                if (_firstDelta[c] != 0)
                    metrics._timeToFirstToken.WithLabels(model, outcome).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(_submitted, _firstDelta[c]).TotalSeconds);
                metrics._endToEnd.WithLabels(model, outcome).Observe(System.Diagnostics.Stopwatch.GetElapsedTime(_submitted).TotalSeconds);
            }
        }
    }
}
