using System.Diagnostics;
using Vib3.Core;
using Vib3.Index;
using Vib3.Models.Retrieval;
using Vib3.Query;
using Vib3.Query.Execution;
using Vib3.Storage.Catalog;

namespace Vib3.Engine;

/// <summary>CREATE INDEX ON MODEL and DROP INDEX ON MODEL: the page keys USING RETRIEVAL searches, built from the
/// weights (read through the model's page store) and kept in the model's folder (<see cref="PageIndexFolder"/>).</summary>
internal static class IndexStatements
{
    /// <summary>mean_gate ranked bundles best against their true contribution on the trained vib3-moe (recall@16 of
    /// 64 pages: 0.41 against svd_gate 0.35, gate_up 0.39, chance 0.25) and on a synthetic model
    /// (tests/Vib3.Models.Tests/Retrieval/PageKeyQualityTests); inner product keeps how coherent a bundle's rows are
    /// in the key's length (cosine ranked the same within 0.005).</summary>
    public const PageKeyKind DefaultKeys = PageKeyKind.MeanGate;
    public const PageKeyMetric DefaultMetric = PageKeyMetric.InnerProduct;

    /// <param name="progress">Told of each layer as it is indexed (the session's <see cref="Session.Progress"/>).</param>
    public static async Task<StatementResult> CreateAsync(Vib3Engine engine, CreateIndex c, Action<string>? progress, CancellationToken ct)
    {
        var name = c.Model.Name;
        var graphOptions = new HnswOptions(M: c.M ?? 16, EfConstruction: c.EfConstruction ?? 200);
        try { graphOptions.Validate(); }
        catch (ArgumentException e)
        {
            throw new Vib3Exception(SqlState.InvalidParameterValue, $"{e.Message} (at line {c.Position.Line}:{c.Position.Column})");
        }
        if (!engine.Catalog.Exists(name))
            throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{name}\" does not exist (at line {c.Position.Line}:{c.Position.Column})");
        var kind = KeysNamed(c.Keys);
        var metric = c.Metric switch
        {
            null => DefaultMetric,
            "ip" => PageKeyMetric.InnerProduct,
            "cosine" => PageKeyMetric.Cosine,
            var other => throw new Vib3Exception(SqlState.InvalidParameterValue, $"unknown metric '{other}'"),
        };

        // Built through the served model's store: its pages are cached for generation anyway, and a running batch
        // keeps going while the keys are computed.
        var served = await engine.Generations.GetAsync(name, ct).ConfigureAwait(false);
        var rows = new List<object?[]>();
        var clock = Stopwatch.StartNew();
        // Every layer gets a graph beside its keys (cheap next to reading the weights); whether a search uses it is decided
        // per query by SearchCost, so small layers keep the exact scan.
        var graphs = new Dictionary<int, HnswIndex>();
        var layers = await PageKeys.BuildAsync(served.Weights, kind, metric, layer =>
        {
            graphs[layer.Layer] = new HnswIndex(layer.Keys, layer.Dims, PageIndex.MetricOf(metric), graphOptions);
            rows.Add([name, (long)layer.Layer, (long)layer.Pages, (long)layer.Dims, PageKeyLayer.KindName(kind),
                PageKeyLayer.MetricName(metric), $"hnsw m={graphOptions.M} ef_construction={graphOptions.EfConstruction}",
                clock.Elapsed.TotalSeconds]);
            progress?.Invoke(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"CREATE INDEX ON MODEL {name}: layer {layer.Layer} ({rows.Count} of {served.Weights.ExpertGrids.Count}), {layer.Pages} page keys and a graph in {clock.Elapsed.TotalSeconds:0.00} s"));
            clock.Restart();
        }, ct).ConfigureAwait(false);
        var neuronKeys = c.NeuronKeys is null ? NeuronKeySpec.Default : NeuronKeySpec.All.SingleOrDefault(x => x.Name == c.NeuronKeys);
        var neurons = neuronKeys is not null ? await NeuronKeys.BuildAsync(served.Weights, neuronKeys, ct).ConfigureAwait(false) : [];
        if (neuronKeys is not null)
            progress?.Invoke($"CREATE INDEX ON MODEL {name}: {neuronKeys.Name} neuron keys for router-first retrieval in {clock.Elapsed.TotalSeconds:0.00} s");
        var index = new PageIndex(layers, served.Weights.ExpertGrids, name, graphs);
        if (neurons.Count > 0) index = index.WithNeurons(neurons, served.Weights.ExpertGrids, name);
        var calibration = c.Calibration is { } file ? await CalibrateAsync(served, index, file, c.CalibrationTokens ?? DefaultCalibrationTokens, ct).ConfigureAwait(false) : null;
        if (calibration is not null)
            progress?.Invoke($"CREATE INDEX ON MODEL {name}: router-first retrieval calibrated on {calibration.Tokens} tokens of {Path.GetFileName(calibration.File)}");
        var dir = engine.Catalog.ModelDir(name);
        PageIndexFolder.Publish(dir, layers, (layer, path) =>
        {
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            graphs[layer.Layer].Save(file);
            file.Flush(flushToDisk: true);
        }, neurons, calibration);
        served.Index.Replace(index);
        return StatementResult.Table($"CREATE INDEX {layers.Count}",
            [
                new("model", ColumnType.Text), new("layer", ColumnType.Int64), new("pages", ColumnType.Int64), new("dims", ColumnType.Int64),
                new("keys", ColumnType.Text), new("metric", ColumnType.Text), new("graph", ColumnType.Text), new("seconds", ColumnType.Float64),
            ], rows);
    }

    /// <summary>Tokens of the calibration text run unless calibration_tokens says otherwise.</summary>
    public const int DefaultCalibrationTokens = 4096;

    /// <summary>The calibration text's first <paramref name="maxTokens"/> tokens run through the served model (exact
    /// routing, windows of up to 512, between its batch's steps) while <see cref="MassCalibration"/> measures what
    /// router-first retrieval keeps with <paramref name="index"/>'s neuron keys in every layer, and what it costs.</summary>
    private static async Task<RetrievalCalibration> CalibrateAsync(Serving.ServedModel served, PageIndex index, string file,
        int maxTokens, CancellationToken ct)
    {
        var path = Path.GetFullPath(file);
        var tokens = served.Tokenizer.Encode(CalibrationText.Read(path, maxTokens), served.Tokenizer.AddBosByDefault);
        if (tokens.Count > maxTokens) tokens = tokens.Take(maxTokens).ToArray();
        var context = Math.Min(Serving.GenerationService.DefaultPerplexityContext, served.Forward.Hyper.Context);
        return await served.Scheduler.RunAloneAsync((forward, token) =>
            new ValueTask<RetrievalCalibration>(MassCalibration.RunAsync(forward, index, tokens, context, path, token)), ct)
            .ConfigureAwait(false);
    }

    /// <summary>The key construction a statement names (null: the default); 22023 for an unknown name.</summary>
    private static PageKeyKind KeysNamed(string? name) => name switch
    {
        null => DefaultKeys,
        "mean_gate" => PageKeyKind.MeanGate,
        "svd_gate" => PageKeyKind.SvdGate,
        "gate_up" => PageKeyKind.GateUp,
        var other => throw new Vib3Exception(SqlState.InvalidParameterValue,
            $"unknown key construction '{other}': use mean_gate, svd_gate or gate_up"),
    };

    public static StatementResult Drop(Vib3Engine engine, DropIndex d)
    {
        var name = d.Model.Name;
        if (!engine.Catalog.Exists(name))
            throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{name}\" does not exist (at line {d.Position.Line}:{d.Position.Column})");
        if (!PageIndexFolder.Drop(engine.Catalog.ModelDir(name)) && !d.IfExists)
            throw new Vib3Exception(SqlState.UndefinedObject, $"model \"{name}\" has no index (at line {d.Position.Line}:{d.Position.Column})");
        foreach (var served in engine.Generations.Open())
            if (served.Weights.Manifest.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) served.Index.Drop();
        return StatementResult.Command("DROP INDEX");
    }

    /// <summary>vib3_indexes: one row per model and MoE layer with an index (headers only; keys are not read): key
    /// construction, metric, kind (exact: keys only; hnsw: a graph beside them), the graph's M, the neuron keys
    /// router-first retrieval scores with (null: none), bytes on disk of all three; with a calibration, what it ran on
    /// and the mass and share of pages USING RETRIEVAL's default gives the layer (an unreadable calibration says why in
    /// the calibration column).</summary>
    public static Table Table(Vib3Engine engine) => new("vib3_indexes",
        SystemTableSchemas.Indexes,
        engine.Catalog.List().Where(x => x.Manifest is not null).SelectMany(x =>
        {
            var dir = engine.Catalog.ModelDir(x.Name);
            var (calibration, allocated) = Calibration(dir);
            return PageIndexFolder.Headers(dir).Select(h =>
            {
                var neurons = Path.Combine(PageIndexFolder.Dir(dir), NeuronKeyFile.FileName(h.Header.Layer));
                var neuronKeys = PageIndexFolder.NeuronKeys(dir, h.Header.Layer);
                return new object?[]
                {
                    x.Manifest!.Name, (long)h.Header.Layer, (long)h.Header.Pages, (long)h.Header.Dims,
                    PageKeyLayer.KindName(h.Header.Kind), PageKeyLayer.MetricName(h.Header.Metric), h.Graph is null ? "exact" : "hnsw",
                    h.Graph is { } m ? (long?)HnswIndex.ReadHeader(m).M : null, neuronKeys?.Name,
                    h.Bytes + (h.Graph is { } g ? new FileInfo(g).Length : 0) + (neuronKeys is null ? 0 : new FileInfo(neurons).Length),
                    calibration,
                    allocated?.TryGetValue(h.Header.Layer, out var a) == true ? a.Mass : null,
                    allocated?.TryGetValue(h.Header.Layer, out var b) == true ? b.Pages : null,
                };
            });
        }));

    /// <summary>"2307 tokens of calibration-sample.txt" and the default's allocation, or nulls without a calibration; an
    /// unreadable one is its error, so the table still lists the index.</summary>
    private static (string? Text, IReadOnlyDictionary<int, (double Mass, double Pages)>? Allocated) Calibration(string modelDir)
    {
        try
        {
            return PageIndexFolder.ReadCalibration(modelDir) is { } c
                ? ($"{c.Tokens} tokens of {Path.GetFileName(c.File)}", Query.Planning.Planner.DefaultAllocation(c))
                : (null, null);
        }
        catch (Vib3Exception e)
        {
            return ($"unreadable ({e.SqlState}): {e.Message}", null);
        }
    }
}
