using System.Text.RegularExpressions;
using Vib3.Engine;
using Vib3.Kernels.Gpu;
using Vib3.Tests.Cli;

namespace Vib3.Tests.Serving;

/// <summary>The engine's VRAM tier as users see it: the accelerator chosen by --accelerator, the dense matrices of an
/// open model resident within --vram-budget and its expert cache in vib3_tiers, EXPLAIN and EXPLAIN ANALYZE, and a
/// notice, not a failure, when the accelerator asked for is not there. Whether the products on the device give the CPU's logits is ForwardPass's test
/// (Vib3.Models.Tests, DeviceProductsTests).</summary>
public sealed class VramTierTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _data;

    public VramTierTests() => _data = ServingModel.Convert(_dir, expertHidden: 64);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task An_open_model_s_resident_matrices_are_its_vram_row_against_the_shared_budget()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_data, 64L << 20) { Accelerator = AcceleratorChoice.IlgpuCpu, VramBudgetBytes = 32L << 20 });
        Assert.NotNull(engine.DeviceTier);
        Assert.Null(engine.AcceleratorNotice);
        await engine.Generations.WarmUpAsync("m");
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        var rows = await SessionRows.LastAsync(session,
            "SELECT model, resident_pages, resident_bytes, capacity_bytes FROM vib3_tiers WHERE tier = 'vram' ORDER BY model");
        Assert.Equal(2, rows.Count);
        var (model, engineRow) = (rows.Single(r => r[0] is "m"), rows.Single(r => r[0] is null));
        Assert.True((long)model[1]! > 0 && (long)model[2]! > 0, "the model's dense matrices went to the device");
        // The only open model holds all the budget in use: its matrices (its row, as no expert page is cached yet) and
        // its expert cache's slots, reserved but not yet filled.
        Assert.InRange((long)engineRow[2]!, (long)model[2]! + 1, 32L << 20);
        Assert.Equal(32L << 20, (long)model[3]!);
        Assert.Equal(32L << 20, (long)engineRow[3]!);

        // EXPLAIN says so too: every dense matrix resident, the nodes' products on the device.
        var plan = string.Join("\n", (await SessionRows.LastAsync(session, "EXPLAIN GENERATE 'the cat' FROM MODEL m")).Select(r => (string)r[0]!));
        Assert.Matches(@"placement: CPUAccelerator, VRAM budget 32\.0 MiB, [0-9.]+ [KM]iB held by open models; (\d+) of \1 dense matrices resident", plan);
        Assert.Contains("; products on the device", plan);
        Assert.Matches(@"; an expert cache of (\d+) of its \1 expert pages", plan);
        Assert.Contains("pages resident in the VRAM expert cache run on the device", plan);
        Assert.Contains("each sequence's KV cache mirrored in VRAM as the budget has room, before the expert cache", plan);
        Assert.Matches(@"Attention .*; products on the device, attention over the KV cache in VRAM", plan);
    }

    /// <summary>A generation on a model whose every expert page fits the cache: EXPLAIN ANALYZE says where each
    /// layer's expert pages ran (each uploaded on first use, then resident) and vib3_tiers counts the same.</summary>
    [Fact]
    public async Task Explain_analyze_and_vib3_tiers_say_where_the_expert_pages_ran()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_data, 64L << 20) { Accelerator = AcceleratorChoice.IlgpuCpu, VramBudgetBytes = 32L << 20 });
        await engine.Generations.WarmUpAsync("m");
        using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
        var plan = string.Join("\n", (await SessionRows.LastAsync(session, "EXPLAIN ANALYZE GENERATE 'ab' FROM MODEL m MAX_TOKENS 2")).Select(r => (string)r[0]!));
        var line = Regex.Match(plan, @"vram tier: expert pages (\d+) resident, (\d+) uploaded, 0 computed on the CPU \(100\.0% on the device\); the cache: 0 evictions");
        Assert.True(line.Success, plan);
        var (hits, uploads) = (long.Parse(line.Groups[1].Value), long.Parse(line.Groups[2].Value));
        Assert.True(uploads > 0 && hits > 0, plan);
        Assert.Matches(@"layer 1 experts: .*; vram \d+ resident, \d+ uploaded, 0 cpu", plan);
        Assert.Matches(@"; vram \d+ resident / \d+ uploaded / 0 cpu\)", plan); // the Experts nodes' figures
        // Every dense matrix is resident: each operator's products ran on the device, none on the CPU.
        // and attention over the sequence's KV cache in VRAM, at every layer of every step.
        Assert.Matches(@"Attention .*\n.*; products [1-9]\d* device / 0 cpu; attention [1-9]\d* device / 0 cpu\)", plan);
        Assert.DoesNotMatch(@"; products \d+ device / [1-9]", plan);
        Assert.Matches(@"vram tier: .*; attention over KV caches in VRAM in (\d+) of \1 layer steps \(the others in RAM\); \d+ sequences' caches in VRAM now", plan);

        var row = (await SessionRows.LastAsync(session, "SELECT hits, misses, evictions, failure FROM vib3_tiers WHERE tier = 'vram' AND model = 'm'")).Single();
        Assert.Equal(hits, (long)row[0]!);
        Assert.Equal(uploads, (long)row[1]!);
        Assert.Equal(0L, (long)row[2]!);
        Assert.Null(row[3]);

        // Per layer (SHOW TIERS BY LAYER): the same counts, split by the layer of each page.
        var layers = await SessionRows.LastAsync(session, "SELECT vram_hits, vram_uploads, vram_cpu_pages, vram_evictions FROM vib3_expert_tiers WHERE model = 'm'");
        Assert.Equal(2, layers.Count);
        Assert.All(layers, l => Assert.True((long)l[1]! > 0 && (long)l[2]! == 0 && (long)l[3]! == 0));
        Assert.Equal((hits, uploads), (layers.Sum(l => (long)l[0]!), layers.Sum(l => (long)l[1]!)));
    }

    /// <summary>Here (no CUDA device) the engine says why the CPU runs everything; on a machine with one it opens it.</summary>
    [Fact]
    public async Task A_missing_cuda_device_is_a_notice_and_the_cpu_path()
    {
        await using var engine = new Vib3Engine(new EngineOptions(_data, 64L << 20) { Accelerator = AcceleratorChoice.Cuda });
        if (engine.DeviceTier is null)
        {
            Assert.StartsWith("accelerator cuda: ", engine.AcceleratorNotice);
            using var session = engine.OpenSession(ClientAccess.LocalAdministrator);
            await SessionRows.LastAsync(session, "GENERATE 'the cat' FROM MODEL m MAX_TOKENS 2");
            Assert.Empty(await SessionRows.LastAsync(session, "SELECT model FROM vib3_tiers WHERE tier = 'vram'"));
        }
        else Assert.Null(engine.AcceleratorNotice);
    }

    [Fact]
    public void The_cli_prints_the_notice_and_refuses_an_unknown_accelerator()
    {
        bool present;
        using (var device = GpuDevice.Open(AcceleratorChoice.Cuda, out _)) present = device is not null;
        var cuda = CliRun.Run(_data, "query", "--accelerator", "cuda", "SELECT name FROM vib3_models");
        Assert.True(cuda.ExitCode == 0, cuda.Error);
        Assert.Contains("m", cuda.Output);
        if (present) Assert.DoesNotContain("vib3: notice:", cuda.Error);
        else Assert.StartsWith("vib3: notice: accelerator cuda: ", cuda.Error);

        var bad = CliRun.Run(_data, "query", "--accelerator", "gpu", "SELECT 1");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--accelerator gpu: expected one of auto, none, cuda, ilgpu-cpu", bad.Error);
        var budget = CliRun.Run(_data, "query", "--accelerator", "ilgpu-cpu", "--vram-budget", "lots", "SELECT 1");
        Assert.Equal(1, budget.ExitCode);
        Assert.Contains("lots", budget.Error);
    }
}
