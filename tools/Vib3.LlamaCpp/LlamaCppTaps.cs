using System.Runtime.InteropServices;
using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>
/// llama.cpp's intermediate f32 tensors of one prompt, by the names its graph gives them ("attn_norm-0", "Vcur-0",
/// "kqv_out-0", "attn_out-0"…), read through the scheduler's eval callback as each is computed: for finding the op
/// where two engines' results part. The context is <see cref="LlamaCppModel"/>'s (F32 KV cache, flash attention
/// off, one sequence, one batch) on one thread.
/// </summary>
public static unsafe class LlamaCppTaps
{
    /// <summary>ggml_type of f32 tensors (ggml.h).</summary>
    private const int GgmlF32 = 0;

    /// <summary>The tensors named in <paramref name="names"/> (each name's first f32 contiguous occurrence) after
    /// evaluating <paramref name="tokens"/> as a fresh sequence, every position in one batch.</summary>
    public static IReadOnlyDictionary<string, float[]> Capture(string ggufPath, IReadOnlyList<int> tokens, IReadOnlyCollection<string> names)
    {
        ArgumentException.ThrowIfNullOrEmpty(ggufPath);
        if (!File.Exists(ggufPath)) throw new FileNotFoundException("no GGUF file", ggufPath);
        LlamaCppLog.EnsureInstalled();
        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        using var model = SafeLlamaModelHandle.LoadFromFile(ggufPath, mp);
        var state = new State(names);
        var handle = GCHandle.Alloc(state);
        try
        {
            var cp = LLamaContextParams.Default();
            cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint)tokens.Count;
            cp.n_seq_max = 1;
            cp.n_threads = cp.n_threads_batch = 1;
            cp.type_k = cp.type_v = GGMLType.GGML_TYPE_F32;
            cp.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
            cp.cb_eval = (nint)(delegate* unmanaged<nint, byte, nint, byte>)&OnTensor;
            cp.cb_eval_user_data = GCHandle.ToIntPtr(handle);
            using var context = SafeLLamaContextHandle.Create(model, cp);
            var batch = new LLamaBatch();
            for (var i = 0; i < tokens.Count; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, logits: true);
            var result = context.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {result}");
        }
        finally
        {
            handle.Free();
        }
        var missing = names.Where(n => !state.Seen.ContainsKey(n)).ToArray();
        if (missing.Length > 0) throw new InvalidOperationException($"llama.cpp's graph computed no f32 tensor named {string.Join(", ", missing)}");
        return state.Seen;
    }

    private sealed class State(IReadOnlyCollection<string> names)
    {
        public readonly HashSet<string> Wanted = [.. names];
        public readonly Dictionary<string, float[]> Seen = [];

        // ggml's tensor accessors from the build llama.cpp loaded (dlopen by soname returns the loaded one).
        private static readonly nint Base = NativeLibrary.Load("libggml-base.so");
        public readonly delegate* unmanaged<nint, nint> Name = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(Base, "ggml_get_name");
        public readonly delegate* unmanaged<nint, long> Elements = (delegate* unmanaged<nint, long>)NativeLibrary.GetExport(Base, "ggml_nelements");
        public readonly delegate* unmanaged<nint, byte> Contiguous = (delegate* unmanaged<nint, byte>)NativeLibrary.GetExport(Base, "ggml_is_contiguous");
        public readonly delegate* unmanaged<nint, float*> Data = (delegate* unmanaged<nint, float*>)NativeLibrary.GetExport(Base, "ggml_get_data");
    }

    /// <summary>ggml_backend_sched_eval_callback: asked first whether a node is wanted (answering yes makes the
    /// scheduler stop after it), then called again once it is computed.</summary>
    [UnmanagedCallersOnly]
    private static byte OnTensor(nint tensor, byte ask, nint user)
    {
        var state = (State)GCHandle.FromIntPtr(user).Target!;
        var name = Marshal.PtrToStringUTF8(state.Name(tensor))!;
        if (!state.Wanted.Contains(name) || state.Seen.ContainsKey(name)) return 0;
        if (ask != 0) return 1;
        // The type is ggml_tensor's first field in every ggml version; views and permutes are skipped (not contiguous).
        if (*(int*)tensor != GgmlF32 || state.Contiguous(tensor) == 0) return 1;
        state.Seen[name] = new ReadOnlySpan<float>(state.Data(tensor), checked((int)state.Elements(tensor))).ToArray();
        return 1;
    }
}
