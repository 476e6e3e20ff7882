using System.Globalization;
using Vib3.Core;
using Vib3.Index;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>Binds a GENERATE statement to a model and lays out its per-token work: which pages each layer reads,
/// how experts are chosen, what it costs. Its forward program is what the executor runs; EXPLAIN prints it.</summary>
public static class Planner
{
    public static GenerationPlan Plan(GenerationStatement statement, PlannerContext context)
    {
        var o = statement.Options;
        var model = Bind(o, context, statement.Position);
        var m = context.FindModel(model)
                ?? throw Error(SqlState.UndefinedObject, $"model \"{model}\" does not exist", o.Model?.Position ?? statement.Position);
        var h = m.Hyper;
        var routing = o.Routing switch
        {
            RoutingMode.Retrieval => Retrieval(model, m, o, context, statement.Position),
            _ => new RoutingPlan(Retrieval: false, h.TopK, null, h.NormTopKProb),
        };
        var prompt = statement switch
        {
            Generate g => new PlanPrompt(Text(g.Prompt, context, "prompt"), null),
            GenerateChat c => new PlanPrompt(null, c.Messages.Select(x => (Text(x.Role, context, "role"), Text(x.Content, context, "content"))).ToList()),
            GenerateTokens t => new PlanPrompt(null, null, t.Tokens),
            _ => throw new ArgumentOutOfRangeException(nameof(statement)),
        };
        var d = context.DefaultSampling;
        var sampling = new SamplingPlan((double?)o.Temperature ?? d.Temperature, (double?)o.TopP ?? d.TopP, o.TopK ?? d.TopK,
            (double?)o.MinP ?? d.MinP, o.Seed ?? d.Seed, RepeatPenalty: (double?)o.RepeatPenalty ?? d.RepeatPenalty);
        var device = context.Placement?.Invoke(model);
        var (program, operators, estimate) = Layout(m, routing, context.RamBudgetBytes, device?.Failure is null ? device : null);
        estimate = estimate with { RamUse = context.RamUse?.Invoke(model) };
        return new GenerationPlan(model, m, prompt, routing, sampling, o.MaxTokens ?? context.DefaultMaxTokens,
            o.Stop.Select(s => Text(s, context, "STOP")).ToList(), o.Stream, program, operators, estimate)
        {
            IgnoreEos = o.IgnoreEos, Placement = PlacementLine(device, context.AcceleratorNotice),
        };
    }

    /// <summary>USING RETRIEVAL with no settings reads, of the router's experts, the pages holding this share of the
    /// predicted contribution (docs/retrieval.md's router-first table on vib3-moe); on a calibrated index, each layer's
    /// own mass for the fewest pages predicted to cost no more KL than this one mass in every layer.</summary>
    public const decimal DefaultMass = 0.9m;

    /// <summary>What USING RETRIEVAL with no settings gives each layer of a calibrated index: its mass and expected
    /// share of pages, the fewest pages predicted to cost no more KL than <see cref="DefaultMass"/> everywhere.</summary>
    public static IReadOnlyDictionary<int, (double Mass, double Pages)> DefaultAllocation(RetrievalCalibration calibration) =>
        calibration.Allocate(calibration.PredictedKl((double)DefaultMass));

    /// <summary>USING RETRIEVAL: router-first (mass= or budget=, or no settings: <see cref="DefaultMass"/>) needs the
    /// index's neuron keys; key-only (k= without mass or budget) its page keys. When the retrieval asked for cannot read
    /// fewer pages than the router (key-only k of at least every layer's top-k × bundles per expert; budget=1 without a
    /// smaller k), the plan routes exactly and says why.</summary>
    private static RoutingPlan Retrieval(string model, ModelManifest m, GenerateOptions o, PlannerContext context, SourcePosition at)
    {
        var h = m.Hyper;
        var routerFirst = o.Mass is not null || o.Budget is not null || o.K is null;
        if (!routerFirst && ForwardProgram.RetrievalRefusal(m) is { } refusal) throw Error(SqlState.FeatureNotSupported, refusal, at);
        var index = context.FindIndex?.Invoke(model);
        if (index is not { Count: > 0 })
            throw Error(SqlState.FeatureNotSupported,
                $"USING RETRIEVAL needs a page index and model \"{model}\" has none: run CREATE INDEX ON MODEL {ModelNames.ForStatement(model)} first (or use USING ROUTER)", at);
        if (routerFirst)
        {
            if (o.Budget == 1 && (o.K is null || o.K >= m.ExpertGrids.Max(g => h.TopK * g.BundlesPerExpert)))
                return new RoutingPlan(Retrieval: false, h.TopK, null, h.NormTopKProb,
                    Fallback: "RETRIEVAL budget=1 reads every page of the router's experts");
            if (index[0].NeuronKeys is not { } neuronKeys)
                throw Error(SqlState.FeatureNotSupported,
                    $"USING RETRIEVAL{(o.K is null && o.Mass is null && o.Budget is null ? "" : " mass=/budget=")} needs neuron keys and the index of model \"{model}\" has none: " +
                    $"run CREATE INDEX ON MODEL {ModelNames.ForStatement(model)} again (or use USING RETRIEVAL k=N, the page keys' ranking)", at);
            var mass = o.Mass ?? (o.Budget is null ? DefaultMass : null);
            var isDefault = o.K is null && o.Mass is null && o.Budget is null;
            var calibration = index[0].Calibration;
            return new RoutingPlan(Retrieval: true, h.TopK, null, h.NormTopKProb, Mass: mass, Budget: o.Budget, Cap: o.K, NeuronKeys: neuronKeys,
                Default: isDefault, Calibration: mass is null ? null : calibration,
                Allocated: isDefault && calibration is not null ? DefaultAllocation(calibration) : null);
        }
        var k = o.K!.Value;
        if (o.Experts is { } e && e > h.Experts)
            throw Error(SqlState.InvalidParameterValue, $"USING RETRIEVAL experts={e}: model \"{model}\" has {h.Experts} experts per layer", at);
        if (m.ExpertGrids.All(g => k >= h.TopK * g.BundlesPerExpert))
            return new RoutingPlan(Retrieval: false, h.TopK, null, h.NormTopKProb,
                Fallback: $"RETRIEVAL k={k} cannot read fewer pages than the router's top-{h.TopK}");
        var first = index[0].Keys;
        var described = $"{PageKeyLayer.KindName(first.Kind)}, {PageKeyLayer.MetricName(first.Metric)}";
        var graphs = index.Where(x => x.GraphM is not null).ToDictionary(x => x.Keys.Layer, x => x.GraphM!.Value);
        return new RoutingPlan(Retrieval: true, k, o.Ef, h.NormTopKProb, Index: described, GraphM: graphs, Experts: o.Experts, Prior: o.Prior);
    }

    /// <summary>Index or exact scan for one layer, by <see cref="SearchCost"/> (the forward pass decides the same way).</summary>
    private static string SearchMethod(RoutingPlan routing, int layer, int keys)
    {
        if (routing.RouterAware) return "exact scan: the router re-ranks every page";
        if (routing.GraphM?.GetValueOrDefault(layer) is not (> 0 and var m)) return "exact scan";
        var ef = routing.Ef ?? HnswIndex.DefaultEf;
        var graph = SearchCost.Graph(routing.TopK, ef, m);
        return SearchCost.PreferGraph(keys, routing.TopK, ef, m)
            ? $"HNSW M={m} ef={ef}: ~{graph} distance computations at ~{SearchCost.GraphTimeFactor}x a scan's, a scan {keys}"
            : $"exact scan: {keys} distance computations, HNSW M={m} ef={ef} ~{graph} at ~{SearchCost.GraphTimeFactor}x";
    }

    /// <summary>The statement's model: FROM MODEL, else the session's (USE MODEL), else the only stored one; with
    /// several stored (or none) a clear error that names them.</summary>
    private static string Bind(GenerateOptions o, PlannerContext context, SourcePosition at)
    {
        if ((o.Model?.Name ?? context.CurrentModel) is { } chosen) return chosen;
        var stored = context.StoredModels?.Invoke() ?? [];
        if (stored is [var only]) return only;
        throw Error(SqlState.InvalidParameterValue, "no model chosen: add FROM MODEL m, or run USE MODEL m first" + stored.Count switch
        {
            0 when context.StoredModels is not null => " (no model is stored: vib3 demo installs one, CREATE MODEL converts one)",
            0 => "",
            _ => $" (stored: {string.Join(", ", stored.Order(StringComparer.Ordinal).Select(ModelNames.ForStatement))})",
        }, at);
    }

    private static string Text(Expression e, PlannerContext context, string what) => e switch
    {
        StringLiteral s => s.Value,
        ParameterRef p when context.Parameters is { } ps && p.Index <= ps.Count && ps[p.Index - 1] is string v => v,
        ParameterRef p when context.Parameters is { } ps && p.Index <= ps.Count =>
            throw Error(SqlState.InvalidParameterValue, $"parameter ${p.Index} ({what}) must be text", p.Position),
        ParameterRef p => throw Error(SqlState.InvalidParameterValue, $"there is no parameter ${p.Index}", p.Position),
        _ => throw Error(SqlState.InvalidParameterValue, $"the {what} must be text", e.Position),
    };

    /// <summary>The statement's forward program (built from the layer schema) and the tree EXPLAIN prints of it: each
    /// of the program's operators as a node, a layer's under "Layer l", with what it costs a token.</summary>
    private static (ForwardProgram, IReadOnlyList<PlanOperator>, PlanEstimate) Layout(ModelManifest m, RoutingPlan routing, long budget,
        DevicePlacement? device)
    {
        var program = ForwardProgram.Build(m, routing switch
        {
            { Retrieval: false } => null,
            { RouterFirst: true } => new RetrievalRouting(routing.Cap ?? 0, Mass: (double)(routing.Mass ?? 0), Budget: (double)(routing.Budget ?? 0),
                Keys: routing.NeuronKeys, ExpectedPages: routing.Expected?.ToDictionary(x => x.Key, x => x.Value.Pages),
                LayerMass: routing.Allocated?.ToDictionary(x => x.Key, x => x.Value.Mass)),
            _ => new RetrievalRouting(routing.TopK, routing.Ef ?? 0, routing.Experts ?? 0, (float)(routing.Prior ?? 0)),
        });
        var ops = new List<PlanOperator>();
        var layer = new List<PlanOperator>(); // the nodes of the layer being gathered
        foreach (var o in program.Operators)
        {
            var node = new PlanOperator(o.Kind.ToString(), Detail(o, m, routing) + OnDevice(o, device), o.PagesPerRow, o.BytesPerRow, [])
            {
                Operator = o.Id,
                ExactExpertBytes = routing.RouterFirst && o.Kind == OperatorKind.Experts ? m.Hyper.TopK * o.Grid!.BundleBytes(o.Grid.ExpertHidden) : 0,
            };
            if (o.Layer < 0)
            {
                ops.Add(node);
                continue;
            }
            layer.Add(node);
            if (!o.EndsLayer) continue;
            ops.Add(new PlanOperator($"Layer {o.Layer}", "", layer.Sum(c => c.PagesPerToken), layer.Sum(c => c.BytesPerToken), layer)
            {
                ExactExpertBytes = layer.Sum(c => c.ExactExpertBytes),
            });
            layer = [];
        }

        var (pages, bytes, expertBytes, flops) = program.PerToken;
        // Each cached page costs its buffer (record header and sector padding included): the budget holds a little
        // less than its size in page bytes.
        var averagePage = m.PageCount == 0 ? 0 : m.PageBytes / m.PageCount;
        var cacheBytes = averagePage == 0 ? budget : (long)(budget * ((double)averagePage / PageStore.PageCharge((int)averagePage)));
        return (program, ops, new PlanEstimate(pages, bytes, bytes - expertBytes, expertBytes, flops, m.PageBytes, budget, cacheBytes));
    }

    /// <summary>Where an operator's products run, for an open model with matrices in VRAM ("" when all on the CPU).</summary>
    private static string OnDevice(PhysicalOperator o, DevicePlacement? device)
    {
        if (device is { Failure: not null }) return "";
        if (o.Kind == OperatorKind.Experts && device?.Experts is not null)
            return "; pages resident in the VRAM expert cache run on the device, the others on the CPU (or are uploaded: see placement)";
        if (device is not { Candidates: { } candidates, Resident: { Count: > 0 } resident }) return "";
        var matrices = o.Tensors.Where(t => candidates.Contains(t.Name)).ToList();
        var there = matrices.Count(t => resident.Contains(t.Name));
        var products = there == 0 ? "" : there == matrices.Count ? "; products on the device" : $"; products: {there} of {matrices.Count} on the device, the rest on the CPU";
        // Attention attends on the device when its output projection is resident there (the product its outputs feed);
        // latent attention always (its outputs go on to the CPU's per-head products).
        var attends = o.Kind == OperatorKind.Attention && (o.Variant == OperatorVariant.Latent
                                                          || o.Tensors.Any(t => t.Name.EndsWith(".attn_output", StringComparison.Ordinal) && resident.Contains(t.Name)));
        return attends ? products + ", attention over the KV cache in VRAM (in RAM while the budget has no room for it)" : products;
    }

    /// <summary>EXPLAIN's placement line: null when no accelerator was asked for.</summary>
    private static string? PlacementLine(DevicePlacement? device, string? notice)
    {
        if (device is null) return notice is null ? null : $"placement: the CPU runs every operator ({notice})";
        var budget = $"VRAM budget {ByteSize.Format(device.BudgetBytes)}, {ByteSize.Format(device.UsedBytes)} held by open models";
        if (device.Failure is { } failure)
            return $"placement: {device.Device} failed during a product ({failure}); the CPU runs every operator of this model";
        if (device is not { Candidates: { } candidates, Resident: { } resident })
            return $"placement: {device.Device}, {budget}; the model is not open: it opens with its dense matrices in VRAM, in layer order, as far " +
                   "as the budget holds them, then gives what is left to a cache of its experts' pages";
        var experts = device.Experts is { } e
            ? $"; an expert cache of {e.Slots} of its {e.Pages} expert pages ({ByteSize.Format(e.Slots * e.SlotBytes)}, {e.Resident} resident): a page " +
              $"resident runs on the device, a page missed is uploaded while slots are free, when {Vib3.Models.Device.DeviceExperts.UploadRows}+ rows of a step chose " +
              "it or on its second miss, else computed on the CPU from RAM"
            : "; the experts run on the CPU";
        return $"placement: {device.Device}, {budget}; {resident.Count} of {candidates.Count} dense matrices resident, their products on the device " +
               "(each step's rows sent up, the outputs back); each sequence's KV cache mirrored in VRAM as the budget has room, before the expert cache " +
               $"(sequences of the running step first, the least recently used give theirs up), RAM keeping the whole cache{experts}; the embedding and " +
               "what the nodes do not mark run on the CPU";
    }

    /// <summary>What an operator does, as EXPLAIN says it.</summary>
    private static string Detail(PhysicalOperator o, ModelManifest m, RoutingPlan routing)
    {
        var h = m.Hyper;
        var l = o.Layer;
        var vectors = ByteSize.Format(o.Tensors.Where(t => t.Shape.Length == 1).Sum(t => DTypes.Parse(t.DType).ByteCount(t.Shape[0])));
        switch (o.Kind)
        {
            case OperatorKind.Embed:
                var embd = o.Tensors[0];
                return $"token_embd [{Shape(embd)}] {embd.DType}, one row (its page of {Math.Min(embd.RowsPerPage, embd.Shape[0])} rows)";
            case OperatorKind.Attention:
                return Typed(l, o.Variant == OperatorVariant.Latent
                    ? $"latent (MLA), {h.Heads} heads x {h.QkNopeHeadDim}+{h.QkRopeHeadDim} (v {h.VHeadDim}), q rank {h.QLoraRank}, kv rank {h.KvLoraRank}; " +
                      $"cache {h.KvLoraRank + h.QkRopeHeadDim} values per token (full keys and values: {h.Heads * (h.HeadDim + h.VHeadDim)}); norms cached ({vectors})"
                    : $"q/k/v/o, {h.Heads} heads / {h.KvHeads} kv x {h.HeadDim}, rope {h.RopeStyle}; norms and biases cached ({vectors})",
                    o.Tensors);
            case OperatorKind.Prediction:
                // Expert prefetch (always on): the next layer's router scores this residual so that its experts' pages
                // start loading during this layer's compute; one more read of that router per token.
                return Typed(l, $"layer {l + 1}'s router on this residual: its experts' pages start loading", o.Tensors);
            case OperatorKind.FfnNorm:
                return $"RMSNorm of the residual, the FFN half's input; weights cached ({vectors})";
            case OperatorKind.DenseFfn:
                return Typed(l, $"SwiGLU, hidden {h.DenseHidden} (a leading dense layer: no router, no experts)", o.Tensors);
            case OperatorKind.Router when routing is { Retrieval: true, RouterFirst: false }:
                // The router still runs (its softmax weights the retrieved pages).
                return Typed(l, $"softmax over {h.Experts}: weights of the retrieved pages' experts" + (routing.Renormalise ? ", renormalised over them" : ""),
                    o.Tensors);
            case OperatorKind.Router:
                return Typed(l, RouterText(h, routing, o.Tensors.Any(t => t.Name.EndsWith(".exp_probs_b", StringComparison.Ordinal))), o.Tensors);
            case OperatorKind.Experts when routing.RouterFirst:
            {
                var grid = o.Grid!;
                var all = h.TopK * grid.BundlesPerExpert;
                var keys = routing.NeuronKeys!;
                var keyBytes = (long)h.TopK * grid.ExpertHidden * NeuronKeyLayer.NeuronBytes(keys.KeyType, keys.HasUp, grid.Dim);
                var reads = routing.Budget is { } budget
                    ? $"the best {o.PagesPerRow} of their {all} bundle pages (budget={budget.ToString(CultureInfo.InvariantCulture)})"
                    : $"of their {all} bundle pages, best first, those holding " +
                      (routing.Allocated?.GetValueOrDefault(grid.Layer) is { } allocated
                          ? string.Create(CultureInfo.InvariantCulture, $"{allocated.Mass:0.00} (this layer's calibrated mass)")
                          : routing.Mass!.Value.ToString(CultureInfo.InvariantCulture)) +
                      " of the predicted contribution (decided per token" +
                      (routing.Expected?.GetValueOrDefault(grid.Layer) is { } expected
                          ? string.Create(CultureInfo.InvariantCulture, $"; calibrated: {expected.Pages:0%} of them expected, leaving {expected.Error:0.0%} of the experts' output)")
                          : ")");
                return $"router-first: of the router's top-{h.TopK} experts' neurons, R={grid.BundleRows} a page ({ExpertTypes(grid)}), {reads}" +
                       (routing.Cap is { } cap ? $", at most {cap}" : "") + (grid.HotBundles is { } hot && hot.Any(x => x > 0) ? ", hot pages first" : "") +
                       $"; neuron keys {keys.Name} [{grid.Experts * grid.ExpertHidden} x {grid.Dim}{(keys.HasUp ? " x 2" : "")}] in RAM, {ByteSize.Format(keyBytes)} a token; " +
                       $"exact routing reads {all} pages ({ByteSize.Format(h.TopK * grid.BundleBytes(grid.ExpertHidden))})";
            }
            case OperatorKind.Experts when routing.Retrieval:
            {
                var grid = o.Grid!;
                var keys = grid.Experts * grid.BundlesPerExpert;
                return $"{routing.TopK} retrieved bundle page(s) of R={grid.BundleRows} ({ExpertTypes(grid)}), per token; exact routing reads " +
                       $"{h.TopK * grid.BundlesPerExpert} ({ByteSize.Format(h.TopK * grid.BundleBytes(grid.ExpertHidden))}); page index: top-{routing.TopK} " +
                       $"of {keys} page keys [{keys} x {grid.Dim}] f32 in RAM ({routing.Index}, {SearchMethod(routing, l, keys)})";
            }
            case OperatorKind.Experts:
                return $"{routing.TopK} x {o.Grid!.BundlesPerExpert} bundle page(s) of R={o.Grid.BundleRows} ({ExpertTypes(o.Grid)}), chosen per token";
            case OperatorKind.SharedExpert:
                var gated = o.Tensors.Any(t => t.Name.EndsWith(".ffn_gate_inp_shexp", StringComparison.Ordinal));
                return Typed(l, $"hidden {h.SharedExpertHidden}, {(gated ? "sigmoid-gated" : "ungated")}", o.Tensors);
            case OperatorKind.FinalNorm:
                return $"output_norm, RMSNorm of the rows whose logits are wanted; weights cached ({vectors})";
            case OperatorKind.LmHead:
                var output = o.Tensors[0];
                return $"{(output.Name == LayerSchema.TokenEmbedding ? "token_embd (tied)" : "output")} [{Shape(output)}] {output.DType}";
            case OperatorKind.Sample:
                return "the next token from the logits, as the sampling line says";
            default:
                throw new ArgumentOutOfRangeException(nameof(o), o.Kind, "an operator EXPLAIN does not know");
        }
    }

    /// <summary>An operator's detail and the types of the weights it reads: "...; weights f32" when they share one,
    /// else the type of most parameters and the exceptions by name, "...; weights q4_k (attn_v q6_k)" (llama.cpp's
    /// mixes give some tensors a wider type).</summary>
    private static string Typed(int layer, string detail, IReadOnlyList<TensorEntry> tensors)
    {
        var present = tensors.Where(t => t.Shape.Length == 2).ToList();
        if (present.Count == 0) return detail;
        var main = present.GroupBy(t => t.DType, StringComparer.Ordinal)
            .OrderByDescending(g => g.Sum(t => t.Shape.Aggregate(1L, (a, d) => a * d))).First().Key;
        var prefix = $"blk.{layer}.";
        var others = present.Where(t => t.DType != main)
            .Select(t => $"{(t.Name.StartsWith(prefix, StringComparison.Ordinal) ? t.Name[prefix.Length..] : t.Name)} {t.DType}").ToList();
        return $"{detail}; weights {main}" + (others.Count == 0 ? "" : $" ({string.Join(", ", others)})");
    }

    /// <summary>"q4_k" for experts stored in one type, "gate/up q4_k, down q6_k" where down has its own.</summary>
    private static string ExpertTypes(ExpertGridEntry grid) =>
        grid.DownDType is { } down && down != grid.DType ? $"gate/up {grid.DType}, down {down}" : grid.DType;

    /// <summary>How a routed layer picks its experts: softmax top-k, or DeepSeek's grouped router.</summary>
    private static string RouterText(HyperParameters h, RoutingPlan routing, bool bias)
    {
        var text = $"{h.ExpertGating ?? "softmax"}, top-{routing.TopK} of {h.Experts}";
        if (bias) text += " by score + selection bias";
        if (h.ExpertGroups > 1) text += $", best {h.ExpertGroupsUsed} of {h.ExpertGroups} groups eligible";
        if (routing.Renormalise) text += ", renormalised";
        if (h.ExpertWeightsScale is > 0 and not 1) text += $", weights x {h.ExpertWeightsScale.ToString("0.###", CultureInfo.InvariantCulture)}";
        return text;
    }

    private static string Shape(TensorEntry t) => string.Join(" x ", t.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Names the statement's line:column when it came from text (a tree built by hand, e.g. from an HTTP
    /// request, has no position to name).</summary>
    private static Vib3Exception Error(string state, string message, SourcePosition at) =>
        new(state, at == default ? message : $"{message} (at line {at.Line}:{at.Column})");
}
