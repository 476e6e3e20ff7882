using System.Text.Json.Nodes;
using Vib3.Core;
using Vib3.Models.Device;
using Vib3.Models.Inference;
using Vib3.Storage;
using Vib3.Synth;

namespace Vib3.DeviceCheck;

/// <summary>Whole-model logits with the model on the device against the CPU path, for every family: an 8-token prefill
/// and 4 decode steps, each position's max |Δlogit| / max |logit| and whether the argmax agrees. The float types must
/// agree within 1e-4; K-quant mixes are reported per position (a quantised activation that rounds the other way on one
/// side moves the later positions by a few 1e-3, as against llama.cpp).</summary>
internal static class LogitCheck
{
    /// <summary>Every family at a width the K-quants take (256) and a small vocabulary.</summary>
    public static SyntheticModelSpec Spec(ModelFamily family) => new()
    {
        Family = family, Layers = 2, Dim = 256, ExpertHidden = 256, Heads = 4, KvHeads = family == ModelFamily.Olmoe ? 4 : 2,
        Experts = 8, TopK = 2, Vocab = 512, Context = 64, Seed = 3, QLoraRank = 256, KvLoraRank = 256, QkNopeHeadDim = 32,
        QkRopeHeadDim = 32, VHeadDim = 32, SharedExpertHidden = 256,
    };

    public static async Task RunAsync(DeviceTier tier, Report report, string dir, bool quick)
    {
        report.Line("logits: the model on the device vs the CPU path, worst max |Δ| / max |logit| over 8 prefill + 4 decode positions");
        var cases = quick
            ? new[] { (ModelFamily.Mixtral, "f32") }
            : Enum.GetValues<ModelFamily>().SelectMany(f => new[] { (f, "f32"), (f, "q8_0"), (f, "q4_k_m") }).ToArray();
        foreach (var (family, storage) in cases)
        {
            var what = $"{family.ToString().ToLowerInvariant()} {storage}";
            try
            {
                var model = CheckModel.Create(Path.Combine(dir, "logits"), Spec(family), storage);
                var (worst, argmaxMisses, positions, resident) = await CompareAsync(model, tier);
                var floatType = storage is "f32" or "q8_0";
                var ok = argmaxMisses == 0 && (!floatType || worst <= 1e-4);
                report.Line($"  {what}: {worst:0.0e0}, argmax differs at {argmaxMisses} of {positions} positions; {resident} {(ok ? "ok" : "FAIL")}");
                report.Add("logits", new JsonObject
                {
                    ["case"] = what, ["max_rel_diff"] = worst, ["argmax_misses"] = argmaxMisses, ["positions"] = positions, ["resident"] = resident,
                }, ok);
            }
            catch (Exception e) { report.Fail("logits", what, e); }
        }
    }

    private static async Task<(double Worst, int ArgmaxMisses, int Positions, string Resident)> CompareAsync(CheckModel model, DeviceTier tier)
    {
        var options = new PageStoreOptions { RamBudgetBytes = 1L << 30 };
        using var cpu = await SequencePass.OpenAsync(model.Catalog, "m", options, contextLength: 64);
        using var device = await SequencePass.OpenAsync(model.Catalog, "m", options, contextLength: 64, device: tier);
        var d = device.Forward.Device!;
        var tokens = Enumerable.Range(0, 8).Select(i => 3 + i * 37 % (model.Manifest.Hyper.Vocab - 3)).ToArray();
        var expected = (await cpu.LogitsAsync(tokens, allPositions: true)).Select(l => (float[])l.Clone()).ToList();
        var actual = (await device.LogitsAsync(tokens, allPositions: true)).Select(l => (float[])l.Clone()).ToList();
        var next = Argmax(expected[^1]);
        for (var s = 0; s < 4; s++)
        {
            expected.Add((float[])(await cpu.Forward.DecodeAsync(next, cpu.Cache)).Clone());
            actual.Add((float[])(await device.Forward.DecodeAsync(next, device.Cache)).Clone());
            next = Argmax(expected[^1]);
        }
        if (d.Failure is { } failure) throw new InvalidOperationException($"the device was given up: {failure}");
        if (d.Kv.Count == 0) throw new InvalidOperationException("attention ran on the CPU: no KV cache went to the device");
        var worst = expected.Zip(actual, (e, a) => e.Zip(a, (x, y) => Math.Abs(x - y)).Max() / e.Max(MathF.Abs)).Max();
        var misses = expected.Zip(actual, (e, a) => Argmax(e) != Argmax(a)).Count(x => x);
        var counts = d.Experts?.Counts ?? default;
        return (worst, misses, expected.Count,
            $"{d.Count} of {d.Candidates} dense matrices and {d.Experts?.Resident ?? 0} expert pages resident (hits {counts.Hits}, uploads {counts.Uploads}, cpu {counts.CpuPages}), " +
            $"attention over the KV cache in VRAM ({ByteSize.Format(d.Kv.Bytes)})");
    }

    private static int Argmax(float[] v) => Array.IndexOf(v, v.Max());
}
