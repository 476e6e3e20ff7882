using Vib3.Core;
using Vib3.Synth;

namespace Vib3.Tests.Conversion;

/// <summary>Writes a synthetic checkpoint of one family in one format and says where it is.</summary>
public static class SyntheticCheckpoints
{
    public static string Write(TempDir dir, SyntheticModelSpec spec, string format)
    {
        if (format == "gguf")
        {
            var file = dir.Sub($"{spec.Family}-{spec.DType.Name()}.gguf");
            SyntheticModelGenerator.WriteGguf(spec, file);
            return file;
        }
        var folder = dir.Sub($"{spec.Family}-{spec.DType.Name()}-hf");
        SyntheticModelGenerator.WriteHf(spec, folder);
        return folder;
    }

    /// <summary>Small but not trivial: several bundles per expert with a partial last one (ExpertHidden 80, R 32
    /// in the tests), GQA, every tensor kind of the family.</summary>
    public static SyntheticModelSpec Small(ModelFamily family, DType dtype) => new()
    {
        Family = family, Layers = 2, Dim = 64, ExpertHidden = dtype == DType.Q8_0 ? 96 : 80, Heads = 4, KvHeads = 2,
        Experts = 4, TopK = 2, Vocab = 300, Context = 128, Seed = 7, DType = dtype, SharedExpertHidden = 64,
    };
}
