using System.Diagnostics;
using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Kernels.Gpu;
using Vib3.Models.Device;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.DeviceCheck;

/// <summary>Decode and prefill speed of the benchmark shapes: CPU only, then with the VRAM budget holding the whole
/// model, half of it and a quarter of it; the whole-model figure next to the HBM bound (the bytes a token reads at the
/// device's read bandwidth), the partial ones against CPU only. Each configuration is measured three times after a
/// warm-up and reported as median (min): the check has minutes, not hours.</summary>
internal static class SpeedCheck
{
    private const int WarmTokens = 4;

    /// <param name="models">Benchmark shapes (<see cref="BenchShapes"/>: mixtral, kimi) or "small" (the logit check's
    /// Mixtral), each with its storage.</param>
    /// <param name="quick">Prefill 4 tokens and decode 2, once, instead of 64 and 32 three times (ILGPU's CPU accelerator).</param>
    public static async Task RunAsync(GpuDevice device, Report report, string dir, IReadOnlyList<(string Shape, string Storage, int? Layers)> models,
        int layers, double bandwidth, bool quick)
    {
        var (prefillTokens, decodeTokens, repeats) = quick ? (4, 2, 1) : (64, 32, 3);
        foreach (var (shape, storage, modelLayers) in models)
        {
            var n = modelLayers ?? layers;
            var what = $"{shape} {storage} {n} layers";
            try
            {
                var started = Stopwatch.GetTimestamp();
                var spec = shape == "small" ? LogitCheck.Spec(ModelFamily.Mixtral) with { Layers = n } : BenchShapes.ForShape(shape, DType.F32, n);
                var model = CheckModel.Create(Path.Combine(dir, "speed"), spec with { Context = 256 }, storage);
                var perToken = ForwardProgram.Build(model.Manifest).PerToken.Bytes;
                var bound = bandwidth / 2 / perToken;
                report.Line($"speed: {what}: {ByteSize.Format(model.Bytes)}, {ByteSize.Format(perToken)} read a token; HBM bound {bound:0} tok/s " +
                            $"(made in {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s)");
                var cpu = await MeasureAsync(model, null, device, prefillTokens, decodeTokens, repeats);
                report.Line($"  cpu only: decode {cpu.Decode} tok/s, prefill {cpu.Prefill} tok/s");
                var result = new JsonObject
                {
                    ["case"] = what, ["model_bytes"] = model.Bytes, ["bytes_per_token"] = perToken, ["hbm_bound_tok_s"] = bound,
                    ["cpu_decode_tok_s"] = cpu.Decode.Median, ["cpu_decode_tok_s_min"] = cpu.Decode.Min,
                    ["cpu_prefill_tok_s"] = cpu.Prefill.Median, ["cpu_prefill_tok_s_min"] = cpu.Prefill.Min,
                };
                foreach (var share in new[] { 1.0, 0.5, 0.25 })
                {
                    // The whole model: its pages and room for the buffers the device's kernels use beside them.
                    var budget = share == 1.0 ? model.Bytes + (256L << 20) : (long)(model.Bytes * share);
                    var run = await MeasureAsync(model, budget, device, prefillTokens, decodeTokens, repeats);
                    var key = share == 1.0 ? "vram_all" : $"vram_{share * 100:0}pct";
                    var against = share == 1.0
                        ? $"{100 * run.Decode.Median / bound:0.0}% of the HBM bound"
                        : $"{run.Decode.Median / cpu.Decode.Median:0.00}x cpu only";
                    report.Line($"  {key}: decode {run.Decode} tok/s ({against}), prefill {run.Prefill} tok/s " +
                                $"({run.Prefill.Median / cpu.Prefill.Median:0.00}x cpu); opened in {run.OpenSeconds:0.0} s; {run.Placement}");
                    result[$"{key}_decode_tok_s"] = run.Decode.Median;
                    result[$"{key}_decode_tok_s_min"] = run.Decode.Min;
                    result[$"{key}_prefill_tok_s"] = run.Prefill.Median;
                    result[$"{key}_prefill_tok_s_min"] = run.Prefill.Min;
                    result[$"{key}_placement"] = run.Placement;
                }
                report.Add("speed", result);
            }
            catch (Exception e) { report.Fail("speed", what, e); }
        }
    }

    private sealed record Run(Rate Decode, Rate Prefill, double OpenSeconds, string Placement);

    /// <summary>Tokens per second over the repeats: median and min.</summary>
    private sealed record Rate(double Median, double Min)
    {
        public static Rate Of(IReadOnlyList<double> rates)
        {
            var sorted = rates.Order().ToArray();
            return new Rate(sorted[sorted.Length / 2], sorted[0]);
        }

        public override string ToString() => $"{Median:0.0} (min {Min:0.0})";
    }

    /// <summary>One pass over the model (a tier with <paramref name="budget"/> over the device, its kernels compiled once
    /// for every run, or the CPU alone): a warm-up, then <paramref name="repeats"/> times from an empty cache a prefill of
    /// <paramref name="prefillTokens"/> tokens and <paramref name="decodeTokens"/> greedy decode steps.</summary>
    private static async Task<Run> MeasureAsync(CheckModel model, long? budget, GpuDevice device, int prefillTokens, int decodeTokens,
        int repeats)
    {
        using var tier = budget is { } b ? DeviceTier.Over(device, b, ownsDevice: false) : null;
        var opened = Stopwatch.GetTimestamp();
        using var pass = await SequencePass.OpenAsync(model.Catalog, "m", new PageStoreOptions { RamBudgetBytes = model.Bytes + (1L << 30) },
            contextLength: 256, device: tier);
        var openSeconds = Stopwatch.GetElapsedTime(opened).TotalSeconds;
        var vocab = model.Manifest.Hyper.Vocab;
        int[] Tokens(int n, int seed) => Enumerable.Range(0, n).Select(i => 3 + (seed + i * 7919) % (vocab - 3)).ToArray();

        var logits = await pass.LogitsAsync(Tokens(WarmTokens, 1), allPositions: false);
        var next = Argmax(logits[^1]);
        for (var i = 0; i < WarmTokens; i++) next = Argmax(await pass.Forward.DecodeAsync(next, pass.Cache));

        var (prefill, decode) = (new List<double>(), new List<double>());
        for (var r = 0; r < repeats; r++)
        {
            pass.Cache.Clear();
            var start = Stopwatch.GetTimestamp();
            logits = await pass.LogitsAsync(Tokens(prefillTokens, 2 + r), allPositions: false);
            prefill.Add(prefillTokens / Stopwatch.GetElapsedTime(start).TotalSeconds);
            next = Argmax(logits[^1]);
            start = Stopwatch.GetTimestamp();
            for (var i = 0; i < decodeTokens; i++) next = Argmax(await pass.Forward.DecodeAsync(next, pass.Cache));
            decode.Add(decodeTokens / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        var placement = pass.Forward.Device is { } d
            ? $"{d.Count} of {d.Candidates} dense matrices, {d.Experts?.Slots ?? 0} expert slots of {d.Experts?.Pages ?? 0} pages " +
              $"(hits {d.Experts?.Counts.Hits ?? 0}, uploads {d.Experts?.Counts.Uploads ?? 0}, cpu {d.Experts?.Counts.CpuPages ?? 0})" +
              (d.Failure is { } f ? $"; FAILED: {f}" : "")
            : "cpu";
        if (pass.Forward.Device?.Failure is { } failure) throw new InvalidOperationException($"the device was given up: {failure}");
        return new Run(Rate.Of(decode), Rate.Of(prefill), openSeconds, placement);
    }

    private static int Argmax(float[] v) => Array.IndexOf(v, v.Max());
}
