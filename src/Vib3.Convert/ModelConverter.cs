using Vib3.Convert.Config;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Formats;
using Vib3.Convert.Planning;
using Vib3.Core;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Convert;

/// <summary>Converts a checkpoint into a model store: plan (names, shapes, dtypes, page geometry) → write pages
/// into a staging folder → copy the tokenizer → read every page back through the store, verifying checksums →
/// publish with one rename. Memory stays bounded by one expert's down matrix plus one page, whatever the
/// model's size; anything that fails leaves the catalog as it was.</summary>
public sealed class ModelConverter
{
    private readonly ModelCatalog _catalog;
    private readonly DescriptorCatalog _descriptors;

    public ModelConverter(ModelCatalog catalog, DescriptorCatalog descriptors)
    {
        _catalog = catalog;
        _descriptors = descriptors;
    }

    public ModelManifest Convert(ConversionRequest request, IProgress<ConversionProgress>? progress = null, CancellationToken ct = default)
    {
        ModelCatalog.ValidateName(request.Name);
        if (_catalog.Exists(request.Name))
            throw new Vib3Exception(SqlState.DuplicateObject, $"model '{request.Name}' already exists (choose another --name)");

        using var reader = CheckpointReader.Open(request.SourcePath);
        var (family, config, gguf, architecture) = Identify(reader);
        ChatTemplateCheck.Check(reader);
        var unsupportedPreTokenizer = PreTokenizerCheck.Check(reader, request.TokenizerFallback);
        // Block-scaled float8 weights are planned and read as the values they dequantise to.
        var weights = config is HfConfig hf ? Fp8DequantisingCheckpoint.Wrap(reader, Fp8BlockScaling.FromConfig(hf)) : reader;
        var ropeStyle = gguf ? family.Gguf.RopeStyle : family.Hf.RopeStyle;
        var values = HyperResolver.Resolve(family, config, gguf, architecture,
            name => weights.Tensors.TryGetValue(name, out var t) ? t.Shape : null);
        var hyper = HyperResolver.Build(values, ropeStyle, config.Origin);
        var plan = ConversionPlanner.Plan(weights, family, hyper, gguf, request.StorageTypes, request.PageRows, request.NeuronOrder);
        var minimum = PageStore.MinimumRamBudget(plan.Geometry.MaxPageBytes);
        if (request.RamBudgetBytes < minimum)
            throw new Vib3Exception(SqlState.InsufficientResources,
                $"ram budget {ByteSize.Format(request.RamBudgetBytes.Value)} is below the {ByteSize.Format(minimum)} this model's pages " +
                $"(largest {ByteSize.Format(plan.Geometry.MaxPageBytes)}) need to be read back and verified");

        using var staging = _catalog.BeginStaging(request.Name);
        try
        {
            var manifest = NewManifest(request, reader, plan, architecture, gguf);
            WritePages(weights, plan, staging.Dir, manifest, progress, ct);
            manifest.Tokenizer = TokenizerExport.Export(reader, Path.Combine(staging.Dir, "tokenizer"));
            if (unsupportedPreTokenizer is not null)
            {
                manifest.Tokenizer.PreTokenizerFallback = PreTokenizerCheck.Gpt2;
                manifest.Tokenizer.UnsupportedPreTokenizer = unsupportedPreTokenizer;
            }
            Verify(staging.Dir, manifest, request.RamBudgetBytes, progress, ct);
            _catalog.Publish(staging, manifest);
            return manifest;
        }
        catch (IOException e) when (DiskErrors.IsDiskFull(e))
        {
            throw DiskErrors.DiskFull(staging.Dir, e);
        }
    }

    private (FamilyDescriptor Family, IConfigSource Config, bool Gguf, string Architecture) Identify(ICheckpointReader reader)
    {
        if (reader is GgufCheckpoint g)
        {
            var config = new GgufConfig(g);
            var arch = config.Architecture ?? throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{reader.Path}: GGUF metadata has no general.architecture");
            var family = _descriptors.ForGgufArchitecture(arch) ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
                $"{reader.Path}: unknown architecture '{arch}' (vib3 converts GGUF architectures: {_descriptors.SupportedGguf})");
            if ((config.GetNumber($"{arch}.expert_count") ?? 0) < 1)
                throw new Vib3Exception(SqlState.FeatureNotSupported,
                    $"{reader.Path}: '{arch}' model without experts; vib3 serves Mixture-of-Experts models ({arch}.expert_count missing or 0)");
            return (family, config, true, arch);
        }
        var hf = HfConfig.Load(CheckpointFolder(reader));
        var architecture = hf.Architecture ?? throw new Vib3Exception(SqlState.InvalidParameterValue,
            $"{hf.Origin}: no 'architectures' entry");
        var hfFamily = _descriptors.ForHfArchitecture(architecture) ?? throw new Vib3Exception(SqlState.FeatureNotSupported,
            $"{hf.Origin}: unknown architecture '{architecture}' (vib3 converts: {_descriptors.SupportedHf})");
        return (hfFamily, hf, false, architecture);
    }

    /// <summary>The folder holding config.json and the tokenizer: the path itself, or the folder of a single .safetensors file.</summary>
    internal static string CheckpointFolder(ICheckpointReader reader) =>
        Directory.Exists(reader.Path) ? reader.Path : Path.GetDirectoryName(Path.GetFullPath(reader.Path))!;

    private static ModelManifest NewManifest(ConversionRequest request, ICheckpointReader reader, ConversionPlan plan, string architecture, bool gguf)
    {
        var h = plan.Hyper;
        long expertParams = 3L * h.Dim * h.ExpertHidden;
        long denseParams = plan.Dense.Sum(t => t.Rows * t.Cols);
        return new ModelManifest
        {
            Name = request.Name,
            Family = plan.Family.Family,
            Source = new SourceInfo
            {
                Format = gguf ? "gguf" : "safetensors",
                Path = Path.GetFullPath(reader.Path),
                Architecture = architecture,
                DType = plan.SourceType,
                Bytes = reader.Tensors.Values.Sum(t => t.ByteLength),
            },
            Hyper = h,
            DType = plan.ExpertType.Name(),
            Quantization = request.StorageTypes.Requested,
            PageRows = plan.Geometry.BundleRows,
            NeuronLayout = plan.NeuronOrder?.Layout,
            MaxPageBytes = plan.Geometry.MaxPageBytes,
            Tokenizer = new TokenizerInfo { Kind = gguf ? "gguf" : "hf" },
            Parameters = denseParams + (long)h.MoeLayers * h.Experts * expertParams,
            ActiveParameters = denseParams + (long)h.MoeLayers * h.TopK * expertParams,
            CreatedAt = DateTimeOffset.UtcNow,
        };
    }

    private static void WritePages(
        ICheckpointReader reader, ConversionPlan plan, string dir, ModelManifest manifest,
        IProgress<ConversionProgress>? progress, CancellationToken ct)
    {
        var total = plan.TotalPageBytes;
        using var writer = PageLogWriter.Create(dir, plan.Geometry.MaxPageBytes);
        PagePipeline.Run(plan, new PageAssembler(reader, plan), manifest, writer,
            done => progress?.Report(new ConversionProgress("write", done, total)), ct);
        writer.Complete();
        manifest.PageCount = writer.PageCount;
        manifest.PageBytes = writer.BytesWritten;
    }

    /// <summary>What verification asks of the RAM budget: the store's minimum plus a little cache (pages are read once).</summary>
    private static long VerifyBudget(int maxPageBytes) => PageStore.MinimumRamBudget(maxPageBytes) + (16L << 20);

    /// <summary>Reads every page back from disk through the store (checksums verified on the way) and holds the
    /// manifest to the page table, as opening the model will, before the model may be published: what the catalog
    /// shows has been read back whole.</summary>
    private static void Verify(string dir, ModelManifest manifest, long? ramBudget, IProgress<ConversionProgress>? progress, CancellationToken ct)
    {
        var budget = Math.Min(ramBudget ?? long.MaxValue, VerifyBudget(manifest.MaxPageBytes));
        var options = new PageStoreOptions { RamBudgetBytes = budget };
        using var store = PageStore.Open(dir, manifest.Name, options);
        ManifestValidator.Validate(manifest, manifest.Name);
        ManifestValidator.ValidatePages(manifest, store, manifest.Name);
        long done = 0;
        var all = Enumerable.Range(0, store.PageCount).ToList();
        store.ReadManyAsync(all, (_, bytes) =>
        {
            Interlocked.Add(ref done, bytes.Length);
            progress?.Report(new ConversionProgress("verify", done, manifest.PageBytes));
            return ValueTask.CompletedTask;
        }, ct).GetAwaiter().GetResult();
    }
}
