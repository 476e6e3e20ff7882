using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>Which of LLamaSharp's llama.cpp builds this process loads. By default LLamaSharp picks the widest one the
/// CPU runs (avx512 here), whose ggml kernels sum each row dot's SIMD lanes in f32; the portable build (no AVX) runs
/// ggml's "_generic" kernels, which sum the integers first as vib3 does. One process holds one build.</summary>
public static class LlamaCppBuild
{
    /// <summary>Makes this process load the portable build. Only before the first model loads.</summary>
    public static void UsePortable()
    {
        if (NativeLibraryConfig.LLama.LibraryHasLoaded)
            throw new InvalidOperationException("llama.cpp is already loaded in this process; its build can only be chosen before the first model loads");
        NativeLibraryConfig.All.WithAvx(AvxLevel.None);
    }
}
