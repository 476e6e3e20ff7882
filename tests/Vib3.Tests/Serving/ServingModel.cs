using Vib3.Convert;
using Vib3.Convert.Descriptors;
using Vib3.Core;
using Vib3.Storage.Catalog;
using Vib3.Synth;

namespace Vib3.Tests.Serving;

/// <summary>The engine tests' model: a small synthetic Mixtral (2 layers, 4 experts top-2) converted to q8_0 with 32
/// rows per bundle page as "m" into &lt;dir&gt;/data; returns that data dir. Its context is 96 tokens unless a test
/// needs a sequence that outlasts others whatever the machine's speed.</summary>
internal static class ServingModel
{
    public static string Convert(TempDir dir, int expertHidden, int context = 96)
    {
        var source = Path.Combine(dir.Path, "hf");
        SyntheticModelGenerator.WriteHf(new SyntheticModelSpec
        {
            Family = ModelFamily.Mixtral, Layers = 2, Dim = 64, ExpertHidden = expertHidden, Heads = 4, KvHeads = 2,
            Experts = 4, TopK = 2, Vocab = 300, Context = context, Seed = 11, DType = DType.F32,
        }, source);
        var data = Path.Combine(dir.Path, "data");
        new ModelConverter(new ModelCatalog(data), DescriptorCatalog.LoadDefault())
            .Convert(new ConversionRequest(source, "m", DType.Q8_0, PageRows: 32));
        return data;
    }
}
