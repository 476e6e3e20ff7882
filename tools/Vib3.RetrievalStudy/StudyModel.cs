using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.ModelReport;
using Vib3.Models.Inference;
using Vib3.Models.Tokenization;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.RetrievalStudy;

/// <summary>A model converted into a temporary data dir (removed on dispose) with the text it is measured on: the
/// trained vib3-moe on its held-out documents, or a synthetic Mixtral on deterministic random token ids.</summary>
internal sealed class StudyModel : IDisposable
{
    private readonly string _dir;

    private StudyModel(string dir, string title, ModelCatalog catalog, string name, Func<SequencePass, int[]> stream, int window)
    {
        _dir = dir;
        Title = title;
        Catalog = catalog;
        Name = name;
        Stream = stream;
        Window = window;
    }

    public string Title { get; private set; }

    public ModelCatalog Catalog { get; }

    public string Name { get; }

    /// <summary>The token stream the windows are cut from (needs the opened pass for the tokenizer).</summary>
    public Func<SequencePass, int[]> Stream { get; }

    public int Window { get; }

    /// <summary>The trained checkpoint at <paramref name="hfFolder"/>, bf16 as shipped, <paramref name="pageRows"/> rows per bundle page.</summary>
    public static StudyModel Trained(string hfFolder, int pageRows, string corpus, int window) =>
        Create($"vib3-moe (bf16, page_rows {pageRows})", pageRows, dir => hfFolder, HeldOut(corpus), window);

    /// <summary>The trained checkpoint as <see cref="Trained"/>, its experts' neurons laid out by co-activation on
    /// <paramref name="calibration"/> (vib3 convert --page-layout coact).</summary>
    public static StudyModel Coactivation(string hfFolder, int pageRows, string corpus, string calibration, int window)
    {
        var model = Create("", pageRows, dir => hfFolder, HeldOut(corpus), window, new CalibrationOptions(calibration));
        var m = model.Catalog.Get(model.Name);
        var hot = m.ExpertGrids.Sum(g => g.HotBundles!.Sum());
        model.Title = $"vib3-moe (bf16, page_rows {pageRows}, co-activation layout on {m.NeuronLayout!.CalibrationTokens} tokens of " +
                      $"{Path.GetFileName(calibration)}, {hot} hot pages of {m.ExpertGrids.Sum(g => g.Experts * g.BundlesPerExpert)})";
        model.HotPages = hot;
        return model;
    }

    /// <summary>Hot pages of the model (a co-activation layout's; 0 otherwise).</summary>
    public int HotPages { get; private set; }

    private static Func<SequencePass, int[]> HeldOut(string corpus) => pass =>
    {
        var tokenizer = TokenizerLoader.Load(pass.Weights.TokenizerDir, pass.Weights.Manifest.Tokenizer);
        var text = HeldOutText.Load(corpus, tokenizer);
        Console.Error.WriteLine($"held-out: {text.Documents} documents, {text.Stream.Length} tokens");
        return text.Stream;
    };

    /// <summary>A synthetic Mixtral shaped like vib3-moe's expert grid (8 experts, top-2, 256 hidden rows), f32; or with
    /// <paramref name="experts"/> experts (wider layers: more page keys to search).</summary>
    public static StudyModel Synthetic(int pageRows, int window, int experts = 8)
    {
        var spec = new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = experts > 8 ? 2 : 4, Dim = 128, ExpertHidden = 256, Heads = 4, KvHeads = 2,
            Experts = experts, TopK = 2, Vocab = 512, Context = 512, Seed = 11, DType = DType.F32,
        };
        return Create($"synthetic mixtral (f32, random weights, {experts} experts, page_rows {pageRows})", pageRows, dir =>
        {
            var hf = Path.Combine(dir, "hf");
            SyntheticModelGenerator.WriteHf(spec, hf);
            return hf;
        }, _ =>
        {
            var r = new Random(5);
            return Enumerable.Range(0, 8192).Select(_ => r.Next(3, spec.Vocab)).ToArray();
        }, window);
    }

    private static StudyModel Create(string title, int pageRows, Func<string, string> source, Func<SequencePass, int[]> stream, int window,
        CalibrationOptions? coactivation = null)
    {
        const string name = "m";
        var dir = Directory.CreateTempSubdirectory("vib3-retrieval-study-").FullName;
        try
        {
            var catalog = new ModelCatalog(Path.Combine(dir, "data"));
            var request = new ConversionRequest(source(dir), name, null, pageRows);
            if (coactivation is null) new ModelConverter(catalog, DescriptorCatalog.LoadDefault()).Convert(request);
            else CoactivationLayout.ConvertAsync(catalog, DescriptorCatalog.LoadDefault(), request, coactivation, log: Console.Error.WriteLine)
                .GetAwaiter().GetResult();
            return new StudyModel(dir, title, catalog, name, stream, window);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
