using Vib3.Convert.Config;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Convert.Planning;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Conversion;

/// <summary>The conversion pipeline (pages built on one thread, appended on another) stops promptly and reports
/// the right error whichever side fails.</summary>
public sealed class PagePipelineTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A real checkpoint whose n-th read fails, as a disk error in the source would.</summary>
    private sealed class FailingReader(ICheckpointReader inner, int failAt) : ICheckpointReader
    {
        private int _reads;

        public int Reads => _reads;
        public string Path => inner.Path;
        public string Format => inner.Format;
        public IReadOnlyDictionary<string, SourceTensor> Tensors => inner.Tensors;

        public void Read(SourceTensor t, long offsetInTensor, Span<byte> destination)
        {
            if (Interlocked.Increment(ref _reads) == failAt) throw new IOException("source read failed (test)");
            inner.Read(t, offsetInTensor, destination);
        }

        public void Dispose() => inner.Dispose();
    }

    private (ConversionPlan Plan, ModelManifest Manifest, FailingReader Reader) Setup(int failAt)
    {
        var spec = SyntheticCheckpoints.Small(ModelFamily.Mixtral, DType.F32) with { Layers = 4 };
        var folder = SyntheticCheckpoints.Write(_dir, spec, "hf");
        var reader = new FailingReader(CheckpointReader.Open(folder), failAt);
        var family = DescriptorCatalog.LoadDefault().ForHfArchitecture("MixtralForCausalLM")!;
        var values = HyperResolver.Resolve(family, HfConfig.Load(folder), gguf: false, null, _ => null);
        var hyper = HyperResolver.Build(values, "neox", folder);
        var plan = ConversionPlanner.Plan(reader, family, hyper, gguf: false, target: null, pageRows: 32);
        var manifest = new ModelManifest
        {
            Name = "m", Family = "mixtral", Hyper = hyper, DType = "f32",
            Source = new SourceInfo { Format = "safetensors", Path = folder, Architecture = "MixtralForCausalLM", DType = "f32" },
            Tokenizer = new TokenizerInfo { Kind = "hf" },
        };
        return (plan, manifest, reader);
    }

    [Fact]
    public void All_pages_arrive_in_order()
    {
        var (plan, manifest, reader) = Setup(failAt: int.MaxValue);
        using var _ = reader;
        using var writer = PageLogWriter.Create(_dir.Sub("store"), plan.Geometry.MaxPageBytes);
        PagePipeline.Run(plan, new PageAssembler(reader, plan), manifest, writer, _ => { }, default);
        var expected = manifest.Tensors.Sum(t => t.PageCount) + manifest.ExpertGrids.Sum(g => g.Experts * g.BundlesPerExpert);
        Assert.Equal(expected, writer.PageCount);
        Assert.Equal(manifest.Tensors[^1].FirstPage + manifest.Tensors[^1].PageCount, manifest.ExpertGrids[0].FirstPage);
    }

    [Fact]
    public void A_source_read_failure_is_the_error_reported_and_stops_appending()
    {
        var (plan, manifest, reader) = Setup(failAt: 20);
        using var _ = reader;
        using var writer = PageLogWriter.Create(_dir.Sub("store"), plan.Geometry.MaxPageBytes);
        var e = Assert.Throws<IOException>(() =>
            PagePipeline.Run(plan, new PageAssembler(reader, plan), manifest, writer, _ => { }, default));
        Assert.Contains("source read failed", e.Message);
        Assert.True(writer.PageCount < 20, $"appended {writer.PageCount} pages after the source failed at read 20");
    }

    [Fact]
    public void A_log_failure_stops_the_producer()
    {
        var (plan, manifest, reader) = Setup(failAt: int.MaxValue);
        using var _ = reader;
        var writer = PageLogWriter.Create(_dir.Sub("store"), plan.Geometry.MaxPageBytes);
        var appended = 0;
        Assert.ThrowsAny<ObjectDisposedException>(() =>
            PagePipeline.Run(plan, new PageAssembler(reader, plan), manifest, writer, _ =>
            {
                if (++appended == 3) writer.Dispose(); // the next append fails, as a dead disk would
            }, default));
        Assert.True(reader.Reads < 3 + 3 * PagePipeline.Depth + 3,
            $"the producer kept reading the source ({reader.Reads} reads) after the log failed");
    }
}
