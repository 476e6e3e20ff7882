using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Query.Planning;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Query.Tests.Planning;

/// <summary>Plans checked through EXPLAIN's text, DuckDB style: the expected output is checked in under
/// Planning/Expected; a mismatch writes the actual text beside the test binary (*.actual) to diff and, if right,
/// copy over the expected file.</summary>
public sealed class PlanTests : IClassFixture<PlanTests.Models>
{
    private readonly Models _models;

    public PlanTests(Models models) => _models = models;

    /// <summary>Two small synthetic models, converted once for the class: a Mixtral and a Qwen2-MoE (shared expert).</summary>
    public sealed class Models : IDisposable
    {
        public Models()
        {
            Dir = Path.Combine(Path.GetTempPath(), "vib3-plan-test-" + Guid.NewGuid().ToString("N")[..12]);
            Catalog = new ModelCatalog(Path.Combine(Dir, "data"));
            var converter = new ModelConverter(Catalog, DescriptorCatalog.LoadDefault());
            foreach (var (name, family) in new[] { ("mix", ModelFamily.Mixtral), ("qwen", ModelFamily.Qwen2Moe) })
            {
                var spec = new SyntheticModelSpec
                {
                    Family = family, Layers = 2, Dim = 64, ExpertHidden = 96, Heads = 4, KvHeads = 2, Experts = 4, TopK = 2,
                    Vocab = 320, Context = 128, Seed = 3, DType = DType.F32, SharedExpertHidden = 64,
                };
                var source = Path.Combine(Dir, name);
                SyntheticModelGenerator.WriteHf(spec, source);
                converter.Convert(new ConversionRequest(source, name, PageRows: 32));
            }
        }

        public string Dir { get; }

        public ModelCatalog Catalog { get; }

        public void Dispose()
        {
            try { Directory.Delete(Dir, recursive: true); }
            catch (IOException) { }
        }
    }

    private PlannerContext Context(string? current = null, long budget = 2L << 30, IReadOnlyList<object?>? parameters = null, bool indexed = false,
        int? graphM = null, bool neuronKeys = true) =>
        new(name => _models.Catalog.Exists(name) ? _models.Catalog.Get(name) : null, current, budget, parameters)
        {
            // Index headers as CREATE INDEX would write them (svd_gate, ip): the planner reads only these, never the keys.
            FindIndex = name => indexed && _models.Catalog.Exists(name)
                ? _models.Catalog.Get(name).ExpertGrids.Select(g => new IndexedLayer(new PageKeyLayer(g.Layer, g.Experts * g.BundlesPerExpert, g.Dim,
                    PageKeyKind.SvdGate, PageKeyMetric.InnerProduct, []), graphM,
                    neuronKeys ? new NeuronKeyHeader(g.Layer, g.Experts, g.ExpertHidden, g.Dim, DType.Q4_0, HasUp: true) : null)).ToArray()
                : null,
        };

    [Theory]
    [InlineData("mixtral-retrieval", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL k=3")]
    [InlineData("qwen-retrieval-ef", "EXPLAIN GENERATE 'hello' FROM MODEL qwen USING RETRIEVAL k=2 ef=32")]
    [InlineData("mixtral-retrieval-fallback", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL k=6")]
    // With HNSW graphs of M 4 the 12 keys of a layer are still cheaper to scan at ef 64 (~512 distance computations)...
    [InlineData("mixtral-retrieval-scan-beats-graph", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL k=2", 4)]
    // ... and the graph wins only far below the layer's size (k 1, ef 1, M 2: ~4 computations at twice a scan's).
    [InlineData("mixtral-retrieval-graph", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL k=1 ef=1", 2)]
    // Router-aware ranking scores every page, so the scan runs even where the graph would be cheaper.
    [InlineData("mixtral-retrieval-router-aware", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL k=4 ef=2 experts=2 prior=1", 2)]
    // Router-first: no settings is the default mass; a budget reads its share of the router's pages, k capping it.
    [InlineData("mixtral-router-first-default", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL")]
    [InlineData("mixtral-router-first-budget", "EXPLAIN GENERATE 'hello' FROM MODEL mix USING RETRIEVAL budget=0.5 k=2")]
    public void Retrieval_explain_matches_the_checked_in_plan(string name, string sql, int? graphM = null)
    {
        var actual = PlanPrinter.Print(Planner.Plan(Parse(sql), Context(indexed: true, graphM: graphM)));
        var expectedPath = Path.Combine(AppContext.BaseDirectory, "Planning", "Expected", name + ".txt");
        var expected = File.Exists(expectedPath) ? File.ReadAllText(expectedPath) : "";
        if (actual != expected) File.WriteAllText(Path.Combine(AppContext.BaseDirectory, name + ".actual"), actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Retrieval_reads_k_pages_per_layer_and_falls_back_when_k_covers_the_top_k()
    {
        var router = Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING ROUTER"), Context(indexed: true));
        var retrieval = Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING RETRIEVAL k=3"), Context(indexed: true));
        Assert.True(retrieval.Routing.Retrieval);
        // 2 layers: 3 retrieved bundle pages each, against the router's 2 experts x 3 bundles.
        Assert.Equal(router.Estimate.PagesPerToken - 2 * (6 - 3), retrieval.Estimate.PagesPerToken);
        Assert.True(retrieval.Estimate.ExpertBytesPerToken < router.Estimate.ExpertBytesPerToken);

        var fallback = Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING RETRIEVAL k=6"), Context(indexed: true));
        Assert.False(fallback.Routing.Retrieval);
        Assert.Equal("RETRIEVAL k=6 cannot read fewer pages than the router's top-2", fallback.Routing.Fallback);
        Assert.Equal(router.Estimate, fallback.Estimate);
    }

    [Fact]
    public void Router_first_retrieval_reads_its_budget_plus_the_neuron_keys_and_needs_them()
    {
        var router = Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING ROUTER"), Context(indexed: true));
        var half = Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING RETRIEVAL budget=0.5"), Context(indexed: true));
        Assert.True(half.Routing is { Retrieval: true, RouterFirst: true, Budget: 0.5m, Mass: null, Default: false });
        // 2 layers: 3 of the router's 2 experts x 3 bundles each.
        Assert.Equal(router.Estimate.PagesPerToken - 2 * (6 - 3), half.Estimate.PagesPerToken);
        var grid = router.Manifest.ExpertGrids[0];
        var keys = 2L * 2 * grid.ExpertHidden * (2 * DType.Q4_0.ByteCount(grid.Dim) + 4); // 2 layers x top-2 experts' neurons, gate and up rows
        Assert.Equal(router.Estimate.ExpertBytesPerToken / 2 + keys, half.Estimate.ExpertBytesPerToken);

        var fallback = Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING RETRIEVAL budget=1"), Context(indexed: true));
        Assert.False(fallback.Routing.Retrieval);
        Assert.Equal("RETRIEVAL budget=1 reads every page of the router's experts", fallback.Routing.Fallback);

        var e = Assert.Throws<Vib3Exception>(() => Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING RETRIEVAL"), Context(indexed: true, neuronKeys: false)));
        Assert.Equal(SqlState.FeatureNotSupported, e.SqlState);
        Assert.StartsWith("USING RETRIEVAL needs neuron keys and the index of model \"mix\" has none: run CREATE INDEX ON MODEL mix again", e.Message);
    }

    [Fact]
    public void Retrieval_among_more_experts_than_the_model_has_is_refused()
    {
        var e = Assert.Throws<Vib3Exception>(() => Planner.Plan(Parse("GENERATE 'x' FROM MODEL mix USING RETRIEVAL k=2 experts=5"), Context(indexed: true)));
        Assert.Equal(SqlState.InvalidParameterValue, e.SqlState);
        Assert.Contains("experts=5: model \"mix\" has 4 experts per layer (at line 1:", e.Message);
    }

    private static GenerationStatement Parse(string sql) => StatementParser.Parse(sql).Single() switch
    {
        GenerationStatement g => g,
        Explain e => e.Statement,
        var other => throw new InvalidOperationException($"not a generation: {other}"),
    };

    [Theory]
    [InlineData("mixtral-plain", "EXPLAIN GENERATE 'hello' FROM MODEL mix", 2L << 30)]
    [InlineData("qwen-chat-sampled", "EXPLAIN GENERATE CHAT (('system', 'be brief'), ('user', 'hi')) FROM MODEL qwen MAX_TOKENS 16 TEMPERATURE 0.7 TOP_P 0.9 SEED 42 STOP 'x', 'y' STREAM", 2L << 30)]
    [InlineData("mixtral-tight-budget", "EXPLAIN GENERATE $$a long prompt$$ FROM MODEL mix USING ROUTER", 64L << 10)]
    public void Explain_text_matches_the_checked_in_plan(string name, string sql, long budget)
    {
        var actual = PlanPrinter.Print(Planner.Plan(Parse(sql), Context(budget: budget)));
        var expectedPath = Path.Combine(AppContext.BaseDirectory, "Planning", "Expected", name + ".txt");
        var expected = File.Exists(expectedPath) ? File.ReadAllText(expectedPath) : "";
        if (actual != expected) File.WriteAllText(Path.Combine(AppContext.BaseDirectory, name + ".actual"), actual);
        Assert.Equal(expected, actual);
    }

    /// <summary>EXPLAIN says where the products run: per node for an open model with matrices in VRAM (all, some or none
    /// of a node's), in the header for the model as a whole, for a model not yet open, and when the accelerator asked
    /// for is missing.</summary>
    [Fact]
    public void Explain_shows_which_products_run_on_the_device()
    {
        var mix = _models.Catalog.Get("mix");
        var dense = mix.Tensors.Where(t => t.Shape.Length == 2 && t.Name != "token_embd").Select(t => t.Name).ToHashSet();
        string Explain(DevicePlacement? placement, string? notice = null) => PlanPrinter.Print(Planner.Plan(Parse("EXPLAIN GENERATE 'hi' FROM MODEL mix"),
            Context() with { Placement = _ => placement, AcceleratorNotice = notice }));

        var all = Explain(new DevicePlacement("Test GPU", 8L << 30, 1L << 20, dense, dense));
        Assert.Contains($"placement: Test GPU, VRAM budget 8.00 GiB, 1.00 MiB held by open models; {dense.Count} of {dense.Count} dense matrices resident", all);
        Assert.Matches(@"Attention .*weights f32; products on the device, attention over the KV cache in VRAM \(in RAM while the budget has no room for it\)\n", all);
        Assert.Matches(@"LmHead .*f32; products on the device\n", all);
        Assert.DoesNotMatch(@"(Embed|Experts|FinalNorm) .*on the device", all);

        var some = Explain(new DevicePlacement("Test GPU", 8L << 30, 0, dense, dense.Where(n => !n.EndsWith("attn_v", StringComparison.Ordinal)).ToHashSet()));
        Assert.Matches(@"Attention .*; products: 3 of 4 on the device, the rest on the CPU, attention over the KV cache in VRAM ", some);
        // Without its output projection resident, a layer's attention stays with the CPU (its outputs would come back).
        var noOutput = Explain(new DevicePlacement("Test GPU", 8L << 30, 0, dense, dense.Where(n => !n.EndsWith("attn_output", StringComparison.Ordinal)).ToHashSet()));
        Assert.Matches(@"Attention .*; products: 3 of 4 on the device, the rest on the CPU\n", noOutput);

        Assert.Contains("the model is not open: it opens with its dense matrices in VRAM", Explain(new DevicePlacement("Test GPU", 8L << 30, 0, null, null)));
        var failed = Explain(new DevicePlacement("Test GPU", 8L << 30, 0, dense, dense, "ObjectDisposedException: gone"));
        Assert.Contains("placement: Test GPU failed during a product (ObjectDisposedException: gone); the CPU runs every operator of this model", failed);
        Assert.DoesNotContain("on the device", failed);
        Assert.Contains("placement: the CPU runs every operator (accelerator cuda: no CUDA device found; the CPU runs every operator)",
            Explain(null, "accelerator cuda: no CUDA device found; the CPU runs every operator"));
        Assert.DoesNotContain("placement", Explain(null));
    }

    [Fact]
    public void Use_model_supplies_the_model_and_parameters_the_prompt()
    {
        var plan = Planner.Plan(Parse("GENERATE $1 MAX_TOKENS 5"), Context(current: "qwen", parameters: ["from a parameter"]));
        Assert.Equal("qwen", plan.Model);
        Assert.Equal("from a parameter", plan.Prompt.Text);
        Assert.Equal(5, plan.MaxTokens);
        Assert.Equal(0, plan.Sampling.Temperature);
    }

    /// <summary>No FROM MODEL and no session model: the only stored model; with several, or none, an error that names
    /// them (and each name as a statement would take it).</summary>
    [Fact]
    public void A_statement_naming_no_model_runs_on_the_only_one_stored()
    {
        PlannerContext Stored(params string[] names) => Context() with { StoredModels = () => names };
        Assert.Equal("mix", Planner.Plan(Parse("GENERATE 'x'"), Stored("mix")).Model);
        Assert.Equal("qwen", Planner.Plan(Parse("GENERATE 'x'"), Stored("mix") with { CurrentModel = "qwen" }).Model);
        var several = Assert.Throws<Vib3Exception>(() => Planner.Plan(Parse("GENERATE 'x'"), Stored("qwen", "mix", "my model")));
        Assert.Equal("no model chosen: add FROM MODEL m, or run USE MODEL m first (stored: mix, \"my model\", qwen) (at line 1:1)", several.Message);
        var none = Assert.Throws<Vib3Exception>(() => Planner.Plan(Parse("GENERATE 'x'"), Stored()));
        Assert.Contains("(no model is stored: vib3 demo installs one, CREATE MODEL converts one)", none.Message);
    }

    [Theory]
    [InlineData("GENERATE 'x' FROM MODEL nope", SqlState.UndefinedObject, "model \"nope\" does not exist")]
    [InlineData("GENERATE 'x'", SqlState.InvalidParameterValue, "no model chosen")]
    [InlineData("GENERATE 'x' FROM MODEL mix USING RETRIEVAL k=8", SqlState.FeatureNotSupported, "model \"mix\" has none: run CREATE INDEX ON MODEL mix first")]
    [InlineData("GENERATE $2 FROM MODEL mix", SqlState.InvalidParameterValue, "there is no parameter $2")]
    public void Binding_errors_name_what_is_wrong(string sql, string state, string message)
    {
        var e = Assert.Throws<Vib3Exception>(() => Planner.Plan(Parse(sql), Context(parameters: ["one"])));
        Assert.Equal(state, e.SqlState);
        Assert.Contains(message, e.Message);
        Assert.Contains("(at line 1:", e.Message);
    }
}
