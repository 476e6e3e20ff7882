using System.Globalization;
using Vib3.Core;
using Vib3.Index;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Query.Planning;

/// <summary>Binds a GENERATE statement to a model and lays out its per-token work: which pages each layer reads,
/// how experts are chosen, what it costs. The executor runs exactly this plan; EXPLAIN prints it.</summary>
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
            _ => throw new ArgumentOutOfRangeException(nameof(statement)),
        };
        var d = context.DefaultSampling;
        var sampling = new SamplingPlan((double?)o.Temperature ?? d.Temperature, (double?)o.TopP ?? d.TopP, o.TopK ?? d.TopK,
            (double?)o.MinP ?? d.MinP, o.Seed ?? d.Seed);
        var (operators, estimate) = Layout(m, routing, context.RamBudgetBytes);
        estimate = estimate with { RamUse = context.RamUse?.Invoke(model) };
        return new GenerationPlan(model, m, prompt, routing, sampling, o.MaxTokens ?? context.DefaultMaxTokens,
            o.Stop.Select(s => Text(s, context, "STOP")).ToList(), o.Stream, operators, estimate);
    }

    /// <summary>USING RETRIEVAL k=N [ef=M]: needs the model's page index; when N pages are no fewer than every
    /// layer's top-k × bundles per expert, retrieval cannot read less than the router, so the plan routes exactly.</summary>
    private static RoutingPlan Retrieval(string model, ModelManifest m, GenerateOptions o, PlannerContext context, SourcePosition at)
    {
        var h = m.Hyper;
        var k = o.K ?? throw Error(SqlState.InvalidParameterValue, "USING RETRIEVAL needs k", at);
        if (h.ExpertGating is not null || h.ExpertGroups > 1 || m.Tensors.Any(t => t.Role == "router_bias"))
            throw Error(SqlState.FeatureNotSupported,
                $"USING RETRIEVAL is not supported on model \"{model}\" ({m.Family}): its router (sigmoid scores, selection bias, expert groups) " +
                "has no retrieval weighting yet (use USING ROUTER)", at);
        var index = context.FindIndex?.Invoke(model);
        if (index is not { Count: > 0 })
            throw Error(SqlState.FeatureNotSupported,
                $"USING RETRIEVAL needs a page index and model \"{model}\" has none: run CREATE INDEX ON MODEL {model} first (or use USING ROUTER)", at);
        if (o.Experts is { } e && e > h.Experts)
            throw Error(SqlState.InvalidParameterValue, $"USING RETRIEVAL experts={e}: model \"{model}\" has {h.Experts} experts per layer", at);
        if (m.ExpertGrids.All(g => k >= h.TopK * g.BundlesPerExpert))
            return new RoutingPlan(Retrieval: false, h.TopK, null, h.NormTopKProb, FallbackFromK: k);
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

    private static string Bind(GenerateOptions o, PlannerContext context, SourcePosition at) =>
        o.Model?.Name ?? context.CurrentModel
        ?? throw Error(SqlState.InvalidParameterValue, "no model chosen: add FROM MODEL m, or run USE MODEL m first", at);

    private static string Text(Expression e, PlannerContext context, string what) => e switch
    {
        StringLiteral s => s.Value,
        ParameterRef p when context.Parameters is { } ps && p.Index <= ps.Count && ps[p.Index - 1] is string v => v,
        ParameterRef p when context.Parameters is { } ps && p.Index <= ps.Count =>
            throw Error(SqlState.InvalidParameterValue, $"parameter ${p.Index} ({what}) must be text", p.Position),
        ParameterRef p => throw Error(SqlState.InvalidParameterValue, $"there is no parameter ${p.Index}", p.Position),
        _ => throw Error(SqlState.InvalidParameterValue, $"the {what} must be text", e.Position),
    };

    /// <summary>The per-token operator tree and its totals.</summary>
    private static (IReadOnlyList<PlanOperator>, PlanEstimate) Layout(ModelManifest m, RoutingPlan routing, long budget)
    {
        var h = m.Hyper;
        var tensors = m.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        TensorEntry? T(string name) => tensors.GetValueOrDefault(name);
        long Bytes(TensorEntry t) => DTypes.Parse(t.DType).ByteCount(t.Shape.Aggregate(1L, (a, d) => a * d));
        long Params(TensorEntry t) => t.Shape.Aggregate(1L, (a, d) => a * d);
        (int Pages, long Bytes, long Flops) Sum(params TensorEntry?[] ts) =>
            (ts.Sum(t => t?.PageCount ?? 0), ts.Sum(t => t is null ? 0 : Bytes(t)), ts.Sum(t => t is null ? 0 : 2 * Params(t)));

        var ops = new List<PlanOperator>();
        long dense = 0, experts = 0, flops = 0;
        var pages = 0;
        void Count(int p, long b, long f, bool expert = false)
        {
            pages += p;
            if (expert) experts += b; else dense += b;
            flops += f;
        }

        // The token's row is read as the page that holds it: the store reads (and the RAM tier counts) whole pages.
        var embd = T("token_embd")!;
        var embdPageRows = Math.Min(embd.RowsPerPage, embd.Shape[0]);
        var embdPageBytes = Bytes(embd) / embd.Shape[0] * embdPageRows;
        Count(1, embdPageBytes, 0);
        ops.Add(PlanOperator.Leaf("Embedding", $"token_embd [{Shape(embd)}] {embd.DType}, one row (its page of {embdPageRows} rows)", 1, embdPageBytes));

        for (var l = 0; l < h.Layers; l++)
        {
            var children = new List<PlanOperator>();
            TensorEntry?[] attnTensors = [T($"blk.{l}.attn_q"), T($"blk.{l}.attn_k"), T($"blk.{l}.attn_v"), T($"blk.{l}.attn_output"),
                T($"blk.{l}.attn_q_a"), T($"blk.{l}.attn_q_b"), T($"blk.{l}.attn_kv_a_mqa"), T($"blk.{l}.attn_k_b"), T($"blk.{l}.attn_v_b")];
            var attn = Sum(attnTensors);
            var norms = Sum(T($"blk.{l}.attn_norm"), T($"blk.{l}.ffn_norm"), T($"blk.{l}.attn_q_norm"), T($"blk.{l}.attn_k_norm"),
                T($"blk.{l}.attn_q_bias"), T($"blk.{l}.attn_k_bias"), T($"blk.{l}.attn_v_bias"), T($"blk.{l}.attn_q_a_norm"),
                T($"blk.{l}.attn_kv_a_norm"), T($"blk.{l}.exp_probs_b"));
            Count(attn.Pages, attn.Bytes, attn.Flops);
            children.Add(PlanOperator.Leaf("Attention", Typed(l, h.KvLoraRank > 0
                    ? $"latent (MLA), {h.Heads} heads x {h.QkNopeHeadDim}+{h.QkRopeHeadDim} (v {h.VHeadDim}), q rank {h.QLoraRank}, kv rank {h.KvLoraRank}; " +
                      $"cache {h.KvLoraRank + h.QkRopeHeadDim} values per token (full keys and values: {h.Heads * (h.HeadDim + h.VHeadDim)}); norms cached ({norms.Bytes} B)"
                    : $"q/k/v/o, {h.Heads} heads / {h.KvHeads} kv x {h.HeadDim}, rope {h.RopeStyle}; norms and biases cached ({norms.Bytes} B)",
                attnTensors), attn.Pages, attn.Bytes));
            if (l + 1 < h.Layers && m.ExpertGrids.Any(g => g.Layer == l + 1))
            {
                // Expert prefetch (always on): the next layer's router scores this residual so that its experts' pages
                // start loading during this layer's compute; one more read of that router per token.
                var nextRouter = T($"blk.{l + 1}.ffn_gate_inp");
                var prediction = Sum(nextRouter);
                Count(prediction.Pages, prediction.Bytes, prediction.Flops);
                children.Add(PlanOperator.Leaf("Prediction",
                    Typed(l, $"layer {l + 1}'s router on this residual: its experts' pages start loading", nextRouter),
                    prediction.Pages, prediction.Bytes));
            }

            if (m.ExpertGrids.FirstOrDefault(g => g.Layer == l) is not { } grid)
            {
                TensorEntry?[] ffnTensors = [T($"blk.{l}.ffn_gate"), T($"blk.{l}.ffn_up"), T($"blk.{l}.ffn_down")];
                var ffn = Sum(ffnTensors);
                Count(ffn.Pages, ffn.Bytes, ffn.Flops);
                children.Add(PlanOperator.Leaf("DenseFFN",
                    Typed(l, $"SwiGLU, hidden {h.DenseHidden} (a leading dense layer: no router, no experts)", ffnTensors), ffn.Pages, ffn.Bytes));
                ops.Add(new PlanOperator($"Layer {l}", "", children.Sum(c => c.PagesPerToken), children.Sum(c => c.BytesPerToken), children));
                continue;
            }
            var routerTensor = T($"blk.{l}.ffn_gate_inp");
            var router = Sum(routerTensor);
            Count(router.Pages, router.Bytes, router.Flops);
            var expertBytes = grid.BundleBytes(grid.ExpertHidden);
            if (routing.Retrieval)
            {
                // The router still runs (its softmax weights the retrieved pages); the index is in RAM, not pages.
                children.Add(PlanOperator.Leaf("Router",
                    Typed(l, $"softmax over {h.Experts}: weights of the retrieved pages' experts" + (routing.Renormalise ? ", renormalised over them" : ""), routerTensor),
                    router.Pages, router.Bytes));
                var keys = grid.Experts * grid.BundlesPerExpert;
                children.Add(PlanOperator.Leaf("PageIndex",
                    $"top-{routing.TopK} of {keys} page keys [{keys} x {grid.Dim}] f32 in RAM ({routing.Index}, {SearchMethod(routing, l, keys)})", 0, 0));
                var bundleBytes = grid.BundleBytes(grid.BundleRows);
                var exactPages = h.TopK * grid.BundlesPerExpert;
                Count(routing.TopK, routing.TopK * bundleBytes, routing.TopK * 2L * 3 * grid.Dim * grid.BundleRows, expert: true);
                children.Add(PlanOperator.Leaf("Experts",
                    $"{routing.TopK} retrieved bundle page(s) of R={grid.BundleRows} ({ExpertTypes(grid)}), per token; exact routing reads {exactPages} ({ByteSize.Format(h.TopK * expertBytes)})",
                    routing.TopK, routing.TopK * bundleBytes));
            }
            else
            {
                children.Add(PlanOperator.Leaf("Router", Typed(l, RouterText(h, routing, T($"blk.{l}.exp_probs_b") is not null), routerTensor),
                    router.Pages, router.Bytes));
                var expertPages = routing.TopK * grid.BundlesPerExpert;
                Count(expertPages, routing.TopK * expertBytes, routing.TopK * 2L * 3 * grid.Dim * grid.ExpertHidden, expert: true);
                children.Add(PlanOperator.Leaf("Experts",
                    $"{routing.TopK} x {grid.BundlesPerExpert} bundle page(s) of R={grid.BundleRows} ({ExpertTypes(grid)}), chosen per token",
                    expertPages, routing.TopK * expertBytes));
            }

            if (T($"blk.{l}.ffn_gate_shexp") is not null)
            {
                TensorEntry?[] sharedTensors = [T($"blk.{l}.ffn_gate_shexp"), T($"blk.{l}.ffn_up_shexp"), T($"blk.{l}.ffn_down_shexp")];
                var shared = Sum(sharedTensors);
                Count(shared.Pages, shared.Bytes, shared.Flops);
                var gated = T($"blk.{l}.ffn_gate_inp_shexp") is not null;
                children.Add(PlanOperator.Leaf("SharedExpert", Typed(l, $"hidden {h.SharedExpertHidden}, {(gated ? "sigmoid-gated" : "ungated")}", sharedTensors),
                    shared.Pages, shared.Bytes));
            }
            ops.Add(new PlanOperator($"Layer {l}", "", children.Sum(c => c.PagesPerToken), children.Sum(c => c.BytesPerToken), children));
        }

        var output = T("output") ?? embd;
        var head = Sum(output);
        Count(head.Pages, head.Bytes, head.Flops);
        ops.Add(PlanOperator.Leaf("Output", $"output_norm, {(T("output") is null ? "token_embd (tied)" : "output")} [{Shape(output)}] {output.DType}",
            head.Pages, head.Bytes));

        // Each cached page costs its buffer (record header and sector padding included): the budget holds a little
        // less than its size in page bytes.
        var averagePage = m.PageCount == 0 ? 0 : m.PageBytes / m.PageCount;
        var cacheBytes = averagePage == 0 ? budget : (long)(budget * ((double)averagePage / PageStore.PageCharge((int)averagePage)));
        return (ops, new PlanEstimate(pages, dense + experts, dense, experts, flops, m.PageBytes, budget, cacheBytes));
    }

    /// <summary>An operator's detail and the types of the weights it reads: "...; weights f32" when they share one,
    /// else the type of most parameters and the exceptions by name, "...; weights q4_k (attn_v q6_k)" (llama.cpp's
    /// mixes give some tensors a wider type).</summary>
    private static string Typed(int layer, string detail, params TensorEntry?[] tensors)
    {
        var present = tensors.OfType<TensorEntry>().ToList();
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
