using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Models.Inference;
using Vib3.Models.Retrieval;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Convert;

/// <summary>vib3 convert --page-layout coact's calibration: <paramref name="File"/> (plain text, or .gz) tokenized, at
/// most <paramref name="MaxTokens"/> tokens of it run in windows of <paramref name="Context"/> tokens (the model's
/// context where shorter); a neuron is needed for a token when among the <paramref name="NeededShare"/> of its expert's
/// neurons contributing most, and hot when needed for <paramref name="HotShare"/> of its expert's tokens.</summary>
public sealed record CalibrationOptions(string File, int MaxTokens = 16384, int Context = 512, double NeededShare = 0.5, double HotShare = 0.9);

/// <summary>Conversion with the experts' neurons laid out by co-activation: the checkpoint is converted once as trained
/// into a temporary catalog, that model runs the calibration text with exact routing while a
/// <see cref="CoactivationCalibration"/> watches its experts, and the checkpoint is converted again, into the catalog,
/// with the order that calibration gives (the temporary model is removed either way). The model computes the same
/// function: only which neurons share a page changes.</summary>
public static class CoactivationLayout
{
    public static async Task<ModelManifest> ConvertAsync(ModelCatalog catalog, DescriptorCatalog descriptors, ConversionRequest request,
        CalibrationOptions calibration, IProgress<ConversionProgress>? progress = null, Action<string>? log = null, CancellationToken ct = default)
    {
        ModelCatalog.ValidateName(request.Name);
        if (catalog.Exists(request.Name))
            throw new Vib3Exception(SqlState.DuplicateObject, $"model '{request.Name}' already exists (choose another --name)");
        var text = CalibrationText.Read(calibration.File, calibration.MaxTokens);
        NeuronOrder order;
        var dir = Directory.CreateTempSubdirectory("vib3-calibration-").FullName;
        try
        {
            var temporary = new ModelCatalog(Path.Combine(dir, "data"));
            var phases = progress is null ? null : new Progress(p => progress.Report(p with { Phase = "calibration " + p.Phase }));
            var asTrained = new ModelConverter(temporary, descriptors).Convert(request with { Name = "calibration", NeuronOrder = null }, phases, ct);
            RequireOrderable(asTrained);
            order = await CalibrateAsync(temporary, asTrained, text, calibration, log, ct).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        return new ModelConverter(catalog, descriptors).Convert(request with { NeuronOrder = order }, progress, ct);
    }

    /// <summary>Runs <paramref name="text"/> through <paramref name="model"/> (stored as trained) and returns the
    /// co-activation order for its page size.</summary>
    public static async Task<NeuronOrder> CalibrateAsync(ModelCatalog catalog, ModelManifest model, string text, CalibrationOptions options,
        Action<string>? log = null, CancellationToken ct = default)
    {
        var observer = new CoactivationCalibration(options.NeededShare);
        using var pass = await ForwardPass.OpenAsync(catalog, model.Name, new PageStoreOptions { RamBudgetBytes = 1L << 30 }, ct, observer)
            .ConfigureAwait(false);
        await observer.ReadDownNormsAsync(pass.Weights, ct).ConfigureAwait(false);
        var tokenizer = TokenizerLoader.Load(pass.Weights.TokenizerDir, model.Tokenizer);
        var tokens = tokenizer.Encode(text, tokenizer.AddBosByDefault);
        if (tokens.Count > options.MaxTokens + 1) tokens = tokens.Take(options.MaxTokens + 1).ToArray();
        var context = Math.Min(options.Context, model.Hyper.Context);
        if (tokens.Count < context + 1)
            throw new Vib3Exception(SqlState.InvalidParameterValue,
                $"{options.File}: the calibration text is {tokens.Count} tokens; it needs at least {context + 1} (one window of {context})");
        var exact = new ScoredRouting(ForwardProgram.Build(model));
        var result = await PerplexityEvaluation.RunAsync(pass, tokens, context, context, exact, null, KvCacheType.F32, ct).ConfigureAwait(false);
        log?.Invoke($"calibration: {result.Tokens} tokens of {Path.GetFileName(options.File)} in {result.Windows} windows of {context} " +
                    $"(perplexity {result.Perplexity:0.00} as trained)");
        return observer.Order(model.PageRows, options.HotShare, Path.GetFullPath(options.File));
    }

    /// <summary>Refuses, before the calibration runs, a checkpoint whose expert down matrices are block-quantised: the final
    /// conversion could not move their single columns (<see cref="Planning.ConversionPlanner"/> says the same).</summary>
    private static void RequireOrderable(ModelManifest asTrained)
    {
        if (DTypes.TryParse(asTrained.Source.DType, out var source) && source.IsBlocked())
            throw Planning.ConversionPlanner.UnorderableDown(asTrained.Source.Path, source);
    }

    /// <summary>Passes a report on as it comes, on the reporting thread.</summary>
    private sealed class Progress(Action<ConversionProgress> report) : IProgress<ConversionProgress>
    {
        public void Report(ConversionProgress value) => report(value);
    }
}
