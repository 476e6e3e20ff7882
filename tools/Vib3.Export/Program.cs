using Vib3.Core;

namespace Vib3.Export;

internal static class Program
{
    private const string Usage = """
        vib3-export: writes a GGUF v3 file (llama architecture with experts) of a Hugging Face Mixtral folder,
        tokenizer included, for llama.cpp.

        usage: vib3-export HF_FOLDER OUT.gguf [--dtype f32|f16|bf16|q8_0]
          --dtype T   element type of the matrices (default: the checkpoint's own, bit for bit);
                      norms and the router are always f32
        """;

    private static int Main(string[] args)
    {
        if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            var positional = new List<string>();
            DType? dtype = null;
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] == "--dtype")
                {
                    if (++i >= args.Length) throw Bad("--dtype needs a value");
                    dtype = DTypes.Parse(args[i]);
                }
                else if (args[i].StartsWith("--", StringComparison.Ordinal)) throw Bad($"unknown option {args[i]} (see --help)");
                else positional.Add(args[i]);
            }
            if (positional.Count != 2) throw Bad("expected HF_FOLDER and OUT.gguf (see --help)");
            var spec = GgufExport.Export(positional[0], positional[1], dtype);
            Console.WriteLine($"wrote {positional[1]}: {spec.Layers} layers, {spec.Experts} experts, vocab {spec.Vocab}, " +
                              $"{spec.DType} matrices, {ByteSize.Format(new FileInfo(positional[1]).Length)}");
            return 0;
        }
        catch (Vib3Exception e)
        {
            Console.Error.WriteLine($"error: {e.Message} (SQLSTATE {e.SqlState})");
            return 1;
        }
    }

    private static Vib3Exception Bad(string message) => new(SqlState.InvalidParameterValue, message);
}
