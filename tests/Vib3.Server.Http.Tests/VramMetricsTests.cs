using Vib3.Engine;
using Vib3.Kernels.Gpu;
using Vib3.Synth;

namespace Vib3.Server.Http.Tests;

/// <summary>/metrics exports the VRAM tier when the engine has a device (ILGPU's CPU accelerator here): the budget,
/// what the open models hold of it, and where the expert cache ran the expert pages; and exports no VRAM figures
/// without one.</summary>
public sealed class VramMetricsTests(VramMetricsTests.Fixture server) : IClassFixture<VramMetricsTests.Fixture>
{
    /// <summary>ILGPU's CPU accelerator emulates every lane of a warp with a thread: the smallest vocabulary the
    /// synthetic tokenizer allows keeps the output matrix to few groups.</summary>
    public sealed class Fixture : HttpServerFixture
    {
        protected override SyntheticModelSpec Spec => base.Spec with { Vocab = 260 };

        protected override EngineOptions ConfigureEngine(EngineOptions options) =>
            options with { Accelerator = AcceleratorChoice.IlgpuCpu, VramBudgetBytes = 32L << 20 };
    }

    [Fact]
    public async Task The_vram_budget_the_models_share_of_it_and_the_expert_cache_s_work_are_exported()
    {
        // One token on the emulated device takes seconds, and minutes on two cores shared with the other test classes.
        using var patient = server.NewHttpClient(HttpServerFixture.ApiKey);
        patient.Timeout = TimeSpan.FromMinutes(5);
        var (status, _) = await Api.PostAsync(patient, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 1 });
        Assert.Equal(200, status);

        var samples = await Metrics.ScrapeAsync(server.Http);
        Assert.Equal(32L << 20, Metrics.Get(samples, "vib3_vram_budget_bytes"));
        var resident = Metrics.Get(samples, "vib3_vram_resident_bytes{model=\"m\"}");
        Assert.InRange(resident, 1, Metrics.Get(samples, "vib3_vram_used_bytes"));
        Assert.Equal(0, Metrics.Get(samples, "vib3_vram_failed{model=\"m\"}"));
        // The sequence's KV cache went to VRAM; its mirror is freed once the finished sequence's cache is collected.
        Assert.InRange(Metrics.Get(samples, "vib3_vram_kv_cache_bytes{model=\"m\"}"), 0, Metrics.Get(samples, "vib3_vram_used_bytes") - resident);
        // Every expert page fits the budget: each is uploaded on its first use and runs on the device from then on.
        Assert.True(Metrics.Get(samples, "vib3_vram_expert_uploads_total{model=\"m\"}") > 0);
        Assert.Equal(0, Metrics.Get(samples, "vib3_vram_expert_cpu_pages_total{model=\"m\"}"));
    }
}

/// <summary>Without a device /metrics has no VRAM figures at all (not zeros that read as an empty device).</summary>
public sealed class NoVramMetricsTests(MetricsAcrossReopenTests.Fixture server) : IClassFixture<MetricsAcrossReopenTests.Fixture>
{
    [Fact]
    public async Task No_vram_figure_is_exported()
    {
        var (status, _) = await Api.PostAsync(server.Http, "v1/completions", new { model = HttpServerFixture.Model, prompt = "x", max_tokens = 1 });
        Assert.Equal(200, status);
        var samples = await Metrics.ScrapeAsync(server.Http);
        Assert.DoesNotContain(samples.Keys, k => k.StartsWith("vib3_vram_", StringComparison.Ordinal));
    }
}
