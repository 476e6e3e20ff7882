using Vib3.Core.Quant;

namespace Vib3.Kernels.Tests.Quant;

/// <summary>The provenance of the IQ codebooks: vib3's committed tables are what ggml's dequantisers decode, and the
/// sign rule vib3 computes is ggml's sign table.</summary>
public class IQGridTests
{
    [Fact]
    public void CommittedGrids_AreWhatGgmlsDequantisersDecode()
    {
        var measured = IQGridProbe.All.Select(g => (g, g.Measure())).ToList();
        var differing = measured.Where(m => !m.Item2.SequenceEqual(m.g.Committed())).Select(m => m.g.Property).ToList();
        if (differing.Count == 0) return;
        var path = Path.Combine(Path.GetTempPath(), $"IQGrids-{Environment.ProcessId}.cs");
        File.WriteAllText(path, IQGridSource.Render(measured));
        Assert.Fail($"IQGrids.{string.Join(", IQGrids.", differing)} differ from ggml's; the measured file is {path} " +
                    "(copy it to src/Vib3.Core/Quant/IQGrids.cs to regenerate)");
    }

    [Fact]
    public void EvenParitySigns_IsGgmlsSignTable()
    {
        var ggml = IQGridProbe.MeasureSigns();
        for (var i = 0; i < 128; i++) Assert.Equal(ggml[i], IQLattice.EvenParitySigns(i));
    }

    [Fact]
    public void Probe_RejectsAValueOffTheLattice()
    {
        // The measurement refuses a value that is not scale·(integer + shift): a probe that assumed a wrong scale (3
        // for IQ3_S, whose rows hold odd numbers 1…15) fails loudly instead of writing a table of truncated values.
        var iq3s = IQGridProbe.All.Single(g => g.Type == "iq3_s");
        var wrong = iq3s with { Scale = 3f };
        Assert.Throws<InvalidOperationException>(() => wrong.Measure());
    }
}
