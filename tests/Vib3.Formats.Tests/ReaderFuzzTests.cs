using System.Text;
using Vib3.Convert.Config;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Formats.Tests;

/// <summary>Fuzz targets for the readers of untrusted model files, a few seconds each: random mutations of small valid
/// files must open or fail with a Vib3Exception, allocate a bounded amount, and never hang (<see cref="Fuzz"/>).</summary>
public sealed class ReaderFuzzTests : IDisposable
{
    private const long MaxBytesPerCase = 64L << 20;
    private readonly TempFolder _tmp = new();
    private readonly SyntheticModelSpec _spec = Specs.Small(ModelFamily.Qwen3Moe, DType.F16) with { Layers = 1 };

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Gguf_reader()
    {
        var valid = _tmp.Sub("valid.gguf");
        SyntheticModelGenerator.WriteGguf(_spec, valid);
        var original = File.ReadAllBytes(valid);
        int headerEnd;
        using (var g = GgufCheckpoint.Open(valid)) headerEnd = (int)g.DataStart;
        var file = _tmp.Sub("fuzz.gguf");
        var ran = Fuzz.Run(Fuzz.Seed, Fuzz.Budget, Fuzz.MaxCases, MaxBytesPerCase, r =>
        {
            File.WriteAllBytes(file, Fuzz.MutateBytes(r, original, headerEnd));
            using var g = GgufCheckpoint.Open(file);
            _ = new GgufConfig(g).GetNumber($"{g.Architecture}.context_length");
        });
        Assert.True(ran >= Fuzz.MinCases, $"only {ran} cases ran");
    }

    [Fact]
    public void Safetensors_header_reader()
    {
        var folder = _tmp.Sub("hf");
        SyntheticModelGenerator.WriteHf(_spec, folder);
        var original = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        var headerLength = (int)BitConverter.ToUInt64(original, 0);
        var header = Encoding.UTF8.GetString(original, 8, headerLength);
        var file = _tmp.Sub("fuzz.safetensors");
        var ran = Fuzz.Run(Fuzz.Seed, Fuzz.Budget, Fuzz.MaxCases, MaxBytesPerCase, r =>
        {
            byte[] mutated;
            if (r.Next(2) == 0) mutated = Fuzz.MutateBytes(r, original, 8 + headerLength);
            else
            {
                var json = Encoding.UTF8.GetBytes(Fuzz.MutateJson(r, header));
                mutated = [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. original.AsSpan(8 + headerLength)];
            }
            File.WriteAllBytes(file, mutated);
            using var s = SafetensorsCheckpoint.Open(file);
        });
        Assert.True(ran >= Fuzz.MinCases, $"only {ran} cases ran");
    }

    /// <summary>config.json through everything conversion does with it before reading weights: the architecture, the
    /// family's hyper-parameters resolved and checked.</summary>
    [Fact]
    public void Config_json()
    {
        var folder = _tmp.Sub("hf");
        SyntheticModelGenerator.WriteHf(_spec, folder);
        var config = Path.Combine(folder, "config.json");
        var original = File.ReadAllText(config);
        var descriptors = DescriptorCatalog.LoadDefault();
        using var weights = SafetensorsCheckpoint.Open(folder);
        var ran = Fuzz.Run(Fuzz.Seed, Fuzz.Budget, Fuzz.MaxCases, MaxBytesPerCase, r =>
        {
            if (r.Next(4) == 0) File.WriteAllBytes(config, Fuzz.MutateBytes(r, Encoding.UTF8.GetBytes(original), original.Length));
            else File.WriteAllText(config, Fuzz.MutateJson(r, original));
            var hf = HfConfig.Load(folder);
            if (hf.Architecture is not { } arch || descriptors.ForHfArchitecture(arch) is not { } family) return;
            var values = HyperResolver.Resolve(family, hf, gguf: false, null, name => weights.Tensors.TryGetValue(name, out var t) ? t.Shape : null);
            HyperResolver.Build(values, family.Hf.RopeStyle, hf.Origin);
            Fp8BlockScaling.FromConfig(hf);
        });
        Assert.True(ran >= Fuzz.MinCases, $"only {ran} cases ran");
    }
}
