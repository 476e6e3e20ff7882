using System.Diagnostics;
using Vib3.Kernels.Gpu;
using Vib3.Models.Device;

namespace Vib3.DeviceCheck;

/// <summary>vib3-device-check: on a GPU machine, in this order (each section's lines printed as they come, the JSON
/// rewritten after each result): the device opens and runs its self-test kernel; its copy bandwidth; every device matvec type against the
/// CPU's and its decode speed; whole-model logits on the device against the CPU for every family; decode and prefill
/// speed of the benchmark shapes, CPU only and at VRAM budgets of the whole model, half and a quarter.
///   vib3-device-check [--accelerator cuda|ilgpu-cpu] [--dir DIR] [--json FILE] [--sections kernels,logits,speed]
///                     [--layers N] [--models mixtral:q8_0:8,kimi:q8_0:4,mixtral:q4_k_m:8] [--quick]
/// A model is shape:storage[:layers] (shapes: mixtral, kimi, small; storage: f32, f16, bf16, q8_0 or a llama.cpp mix;
/// layers: --layers when left out).
/// --quick: the short kernel cases, one family, a small one-layer model and few tokens (to try the check itself on
/// ILGPU's CPU accelerator).
/// Exit code 0: every comparison held; 1: one did not (see the lines marked FAIL); 2: no device, or bad arguments.</summary>
internal static class Program
{
    private const string Usage = """
        vib3-device-check: vib3's device kernels and whole models on the GPU against the CPU, and their speed.
          --accelerator cuda|ilgpu-cpu   the device (default cuda; ilgpu-cpu tries the check itself, slowly)
          --dir DIR                      where the synthetic models are written (default: a folder under the temp dir)
          --json FILE                    the figures, rewritten after each result (default device-check.json)
          --sections kernels,logits,speed  which sections run (default all three, in that order)
          --models shape:storage[:layers],...  the speed section's models (default mixtral:q8_0:8,kimi:q8_0:4,mixtral:q4_k_m:8);
                                         shapes mixtral, kimi, small; storage f32, f16, bf16, q8_0 or a llama.cpp mix
          --layers N                     layers of a model that names none (default 8)
          --quick                        short kernel cases, one family, a small one-layer model, few tokens
        Exit code 0: every comparison held; 1: one did not (lines marked FAIL); 2: no device, or bad arguments.
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args is ["--help"] or ["-h"])
        {
            Console.WriteLine(Usage);
            return 0;
        }
        var options = Options.Parse(args);
        if (options is null) return 2;
        var report = new Report(options.Json);
        var started = Stopwatch.GetTimestamp();
        report.Set("started_utc", DateTime.UtcNow.ToString("u"));
        report.Set("machine", $"{Environment.ProcessorCount} cores, {Environment.OSVersion}");

        using var device = GpuDevice.Open(options.Accelerator, out var notice);
        if (device is null)
        {
            report.Line($"no device: {notice}");
            report.Set("device", null);
            report.Set("error", notice);
            report.Write();
            return 2;
        }
        report.Line($"device: {device.Name}, {ByteSize(device.MemoryBytes)}; its self-test kernel ran");
        report.Set("device", device.Name);
        report.Set("device_memory_bytes", device.MemoryBytes);
        var bandwidth = KernelCheck.CopyBandwidth(device, report);
        if (options.Sections.Contains("kernels")) KernelCheck.Run(device, report, options.Quick, bandwidth);
        if (options.Sections.Contains("logits"))
        {
            using var tier = DeviceTier.Over(device, null, ownsDevice: false);
            await LogitCheck.RunAsync(tier, report, options.Dir, options.Quick);
        }
        if (options.Sections.Contains("speed"))
            await SpeedCheck.RunAsync(device, report, options.Dir, options.Models, options.Layers, bandwidth, options.Quick);

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        report.Line($"done in {seconds:0} s: {(report.Failed ? "FAILED (see the lines marked FAIL)" : "every comparison held")}");
        report.Set("seconds", seconds);
        report.Write();
        return report.Failed ? 1 : 0;
    }

    private static string ByteSize(long bytes) => Core.ByteSize.Format(bytes);

    private sealed record Options(AcceleratorChoice Accelerator, string Dir, string Json, IReadOnlySet<string> Sections, int Layers,
        IReadOnlyList<(string Shape, string Storage, int? Layers)> Models, bool Quick)
    {
        public static Options? Parse(string[] args)
        {
            var o = new Options(AcceleratorChoice.Cuda, Path.Combine(Path.GetTempPath(), "vib3-device-check"), "device-check.json",
                new HashSet<string> { "kernels", "logits", "speed" }, 8, [("mixtral", "q8_0", 8), ("kimi", "q8_0", 4), ("mixtral", "q4_k_m", 8)], false);
            try
            {
                for (var i = 0; i < args.Length; i++)
                {
                    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                    o = args[i] switch
                    {
                        "--accelerator" => o with { Accelerator = AcceleratorChoices.Parse(Value()) },
                        "--dir" => o with { Dir = Value() },
                        "--json" => o with { Json = Value() },
                        "--sections" => o with { Sections = Value().Split(',').ToHashSet() },
                        "--layers" => o with { Layers = int.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture) },
                        "--models" => o with { Models = Value().Split(',').Select(Model).ToArray() },
                        "--quick" => o with { Quick = true, Layers = 1, Models = [("small", "q8_0", 1)] },
                        _ => throw new ArgumentException($"unknown option {args[i]}"),
                    };
                }
                if (o.Sections.Except(["kernels", "logits", "speed"]).FirstOrDefault() is { } bad) throw new ArgumentException($"--sections: unknown section {bad}");
                return o;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or Core.Vib3Exception)
            {
                Console.Error.WriteLine($"vib3-device-check: {e.Message}");
                return null;
            }
        }

        private static (string, string, int?) Model(string m) => m.Split(':') switch
        {
            [var shape, var storage] => (shape, storage, null),
            [var shape, var storage, var layers] => (shape, storage, int.Parse(layers, System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw new ArgumentException($"--models {m}: expected shape:storage[:layers]"),
        };
    }
}
