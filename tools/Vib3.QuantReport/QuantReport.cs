using System.Diagnostics;
using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Convert.Planning;
using Vib3.Core;
using Vib3.Export;
using Vib3.Kernels;
using Vib3.LlamaCpp;
using Vib3.ModelReport;
using Vib3.Models.Inference;
using Vib3.Models.Tokenization;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.QuantReport;

internal sealed record QuantReportOptions(string Source, string Corpus, int Window, int MaxWindows, QuantLevel[] Levels, int Threads);

/// <summary>For each level: llama.cpp quantises the f32 export, llama.cpp and vib3 evaluate that file, and vib3
/// evaluates its own conversion of the checkpoint at that level where it writes it. Prints a Markdown row per level
/// as it goes.</summary>
internal static class QuantReport
{
    /// <summary>The whole model is 18 MB: a budget that holds every page keeps the evaluation CPU-bound.</summary>
    private const long RamBudget = 256L << 20;

    /// <summary>Decoded tokens over which the weight bytes per token are measured.</summary>
    private const int DecodeTokens = 32;

    public static async Task<List<QuantRow>> RunAsync(QuantReportOptions o, CancellationToken ct)
    {
        KernelThreads.Threads = o.Threads;
        var dir = Directory.CreateTempSubdirectory("vib3-quant-report-").FullName;
        try
        {
            var f32 = Path.Combine(dir, "f32.gguf");
            GgufExport.Export(o.Source, f32, DType.F32);
            var catalog = new ModelCatalog(Path.Combine(dir, "data"));
            var converter = new ModelConverter(catalog, DescriptorCatalog.LoadDefault());
            var text = await LoadTextAsync(converter, catalog, f32, o.Corpus, ct);
            var evaluated = Math.Min(o.MaxWindows, text.Windows(o.Window).Count());
            Console.WriteLine($"held-out: {text.Documents} documents, {evaluated} windows of {o.Window} tokens; {o.Threads} threads");
            Console.WriteLine("| level | file | bits / weight | bytes / token | llama.cpp | vib3 (same file) | vib3 (own quantisation) |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            var rows = new List<QuantRow>();
            foreach (var level in o.Levels)
            {
                var clock = Stopwatch.StartNew();
                var gguf = f32;
                if (level.Ftype is { } ftype)
                {
                    gguf = Path.Combine(dir, $"{level.Name}.gguf");
                    LlamaCppQuantizer.Quantize(f32, gguf, ftype, o.Threads, quantizeOutput: true);
                }
                var llama = LlamaCppPerplexity.Run(gguf, text, o.Window, o.MaxWindows, o.Threads);
                var (onFile, bpw, perToken) = await Vib3Async(converter, catalog, new ConversionRequest(gguf, $"file-{level.Name}"), text, o, ct);
                EngineResult? written = null;
                if (OwnQuantisation(o.Source, level) is { } own)
                    (written, _, _) = await Vib3Async(converter, catalog, own, text, o, ct);
                var row = new QuantRow(level.Name, new FileInfo(gguf).Length, bpw, perToken, EngineResult.Of(llama.Loss), onFile, written);
                rows.Add(row);
                Console.WriteLine($"| {row.Level} | {ByteSize.Format(row.FileBytes)} | {row.BitsPerWeight:0.00} | {Bytes(row.BytesPerToken)} | " +
                                  $"{row.LlamaCpp.Show} | {row.Vib3OnLlamaCppFile.Show} | {row.Vib3Written?.Show ?? "not written by vib3"} |");
                Console.Error.WriteLine($"  {level.Name}: {clock.Elapsed.TotalSeconds:0} s");
            }
            return rows;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>vib3's conversion of the checkpoint at <paramref name="level"/>: one of llama.cpp's mixes, or one type
    /// vib3 writes; null where vib3 does not write the level.</summary>
    private static ConversionRequest? OwnQuantisation(string source, QuantLevel level) =>
        LlamaCppMix.TryParse(level.Name, out var mix) ? new ConversionRequest(source, $"own-{level.Name}", Mix: mix)
        : DTypes.TryParse(level.Name, out var t) && t.IsWritable() ? new ConversionRequest(source, $"own-{level.Name}", t)
        : null;

    /// <summary>The held-out text tokenised by the model's own tokenizer (the f32 export's, as vib3 stores it).</summary>
    private static async Task<HeldOutText> LoadTextAsync(ModelConverter converter, ModelCatalog catalog, string f32, string corpus, CancellationToken ct)
    {
        converter.Convert(new ConversionRequest(f32, "tokenizer"), ct: ct);
        using var pass = await SequencePass.OpenAsync(catalog, "tokenizer", new PageStoreOptions { RamBudgetBytes = RamBudget }, 8, ct);
        var tokenizer = TokenizerLoader.Load(pass.Weights.TokenizerDir, pass.Weights.Manifest.Tokenizer);
        return HeldOutText.Load(corpus, tokenizer);
    }

    /// <summary>vib3's perplexity on one conversion, its stored bits per weight and weight bytes per decoded token; or
    /// the conversion's refusal, which the table shows as it is.</summary>
    private static async Task<(EngineResult Result, double? BitsPerWeight, long? BytesPerToken)> Vib3Async(
        ModelConverter converter, ModelCatalog catalog, ConversionRequest request, HeldOutText text, QuantReportOptions o, CancellationToken ct)
    {
        ModelManifest manifest;
        try
        {
            manifest = converter.Convert(request, ct: ct);
        }
        catch (Vib3Exception e)
        {
            return (new EngineResult(null, $"{e.SqlState}: {e.Message}"), null, null);
        }
        try
        {
            using var pass = await SequencePass.OpenAsync(catalog, request.Name, new PageStoreOptions { RamBudgetBytes = RamBudget },
                o.Window + DecodeTokens + 8, ct);
            var heldOut = await HeldOutEvaluation.RunAsync(pass, text, o.Window, ct, o.MaxWindows);
            var perToken = await BytesPerDecodedTokenAsync(pass, text, ct);
            return (EngineResult.Of(heldOut.Loss), manifest.PageBytes * 8.0 / manifest.Parameters, perToken);
        }
        finally
        {
            catalog.Drop(request.Name);
        }
    }

    /// <summary>Weight bytes the store served (RAM or disk) per greedy decode step after a short prompt.</summary>
    private static async Task<long> BytesPerDecodedTokenAsync(SequencePass pass, HeldOutText text, CancellationToken ct)
    {
        pass.Cache.Clear();
        var logits = (await pass.LogitsAsync(text.Stream[..16], allPositions: false, ct))[0];
        var before = pass.Weights.Store.Stats;
        for (var i = 0; i < DecodeTokens; i++)
            logits = await pass.Forward.DecodeAsync(VectorOps.ArgMax(logits), pass.Cache, ct);
        var after = pass.Weights.Store.Stats;
        return (after.HitBytes - before.HitBytes + after.BytesRead - before.BytesRead) / DecodeTokens;
    }

    private static string Bytes(long? b) => b is { } v ? ByteSize.Format(v) : "—";
}
