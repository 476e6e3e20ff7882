using System.Globalization;
using System.Runtime.InteropServices;
using Vib3.LlamaCpp;

// Vib3.LlamaCpp logits GGUF OUT [--portable] TOKEN...
// llama.cpp's logits at every position of TOKEN... (one batch, LlamaCppModel's context), written to OUT as rows of
// little-endian f32. --portable loads the build without AVX (ggml's portable kernels) instead of the one LLamaSharp
// picks for this CPU; a process can hold only one build, so a test comparing with the portable one runs this as a child.
if (args.Length < 4 || args[0] != "logits")
{
    Console.Error.WriteLine("usage: Vib3.LlamaCpp logits GGUF OUT [--portable] TOKEN...");
    return 2;
}
var (gguf, output) = (args[1], args[2]);
var rest = args[3..];
if (rest[0] == "--portable")
{
    LlamaCppBuild.UsePortable();
    rest = rest[1..];
}
var tokens = rest.Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
using var llama = LlamaCppModel.Load(gguf);
using var file = File.Create(output);
foreach (var row in llama.Logits(tokens)) file.Write(MemoryMarshal.AsBytes(row.AsSpan()));
return 0;
