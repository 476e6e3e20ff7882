using System.Diagnostics;
using LLama.Native;

namespace Vib3.LlamaCpp;

/// <summary>A GGUF file loaded in llama.cpp (through LLamaSharp's low-level API: no executor, sampler or chat
/// template), used as the independent reference for vib3's logits and speed. The context is fixed to what makes
/// the numbers comparable: F32 KV cache, flash attention off, one sequence, every prompt in one batch.
/// Not thread-safe: one call at a time.</summary>
public sealed class LlamaCppModel : IDisposable
{
    private static readonly LLamaSeqId Seq = LLamaSeqId.Zero;

    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _context;
    private readonly LLamaBatch _batch = new();
    private bool _disposed;

    private LlamaCppModel(SafeLlamaModelHandle model, SafeLLamaContextHandle context, int contextLength, int sequences)
    {
        _model = model;
        _context = context;
        ContextLength = contextLength;
        Sequences = sequences;
        VocabSize = model.Vocab.Count;
    }

    /// <summary>Entries in one row of logits (llama.cpp's n_vocab).</summary>
    public int VocabSize { get; }

    /// <summary>Most positions one sequence may hold (prompt plus generated tokens).</summary>
    public int ContextLength { get; }

    /// <summary>Sequences the context holds at once (<see cref="BenchStreams"/> decodes up to this many together).</summary>
    public int Sequences { get; }

    /// <summary>Loads <paramref name="ggufPath"/> on the CPU. <paramref name="memoryMap"/> true maps the file
    /// (llama_model_params.load_mode = mmap), so the weights are page cache that a memory limit can evict; false
    /// reads them into llama.cpp's own buffers (what LLamaSharp's high-level ModelParams does by default).
    /// <paramref name="contextLength"/> bounds prompt plus generated tokens of each of <paramref name="sequences"/>
    /// sequences (more than one: one KV cache shared by all, as llama-server's parallel slots, for <see cref="BenchStreams"/>).
    /// <paramref name="repack"/> false is llama-cli's --no-repack: llama.cpp's CPU backend otherwise copies the tensors
    /// it has interleaved kernels for (Q4_0, Q4_K, IQ4_NL, ...) into its own anonymous buffers, which a memory
    /// limit cannot evict however the file is mapped.</summary>
    public static LlamaCppModel Load(string ggufPath, int threads = 2, int contextLength = 512, bool memoryMap = true, int sequences = 1,
        bool repack = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(ggufPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        if (!File.Exists(ggufPath)) throw new FileNotFoundException("no GGUF file", ggufPath);
        LlamaCppLog.EnsureInstalled();

        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        mp.load_mode = memoryMap ? LLamaLoadMode.MemoryMap : LLamaLoadMode.None;
        mp.check_tensors = false;
        mp.vocab_only = false;
        mp.use_extra_bufts = repack;

        SafeLlamaModelHandle model;
        LlamaCppLog.TakeErrors();
        try
        {
            model = SafeLlamaModelHandle.LoadFromFile(ggufPath, mp);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var why = LlamaCppLog.TakeErrors();
            throw new InvalidOperationException(
                $"llama.cpp refused '{ggufPath}'" + (why.Length > 0 ? ": " + why : ": " + e.Message), e);
        }

        try
        {
            var cp = LLamaContextParams.Default();
            cp.n_ctx = (uint)(contextLength * sequences);
            // A whole prompt is one llama_decode batch, and so is one token of every sequence; llama.cpp computes it
            // in micro-batches of at most 512 (its default), which bounds the compute buffer (it is reserved for
            // n_ubatch rows of logits).
            var batch = Math.Max(contextLength, sequences);
            cp.n_batch = (uint)batch;
            cp.n_ubatch = (uint)Math.Min(batch, 512);
            cp.n_seq_max = (uint)sequences;
            cp.kv_unified = sequences > 1;
            cp.n_threads = threads;
            cp.n_threads_batch = threads;
            cp.type_k = GGMLType.GGML_TYPE_F32; // llama.cpp's default f16 KV cache moves logits by ~0.02
            cp.type_v = GGMLType.GGML_TYPE_F32;
            cp.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
            cp.embeddings = false;
            cp.offload_kqv = false;
            cp.op_offload = false;
            cp.no_perf = true;
            SafeLLamaContextHandle context;
            try
            {
                context = SafeLLamaContextHandle.Create(model, cp);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var why = LlamaCppLog.TakeErrors();
                throw new InvalidOperationException(
                    $"llama.cpp could not make a context for '{ggufPath}'" + (why.Length > 0 ? ": " + why : ": " + e.Message), e);
            }
            return new LlamaCppModel(model, context, contextLength, sequences);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Logits at every position of <paramref name="tokens"/>, evaluated as a fresh sequence in one
    /// batch: row i is the distribution over the token after tokens[0..i].</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        CheckPrompt(tokens, 0);
        Reset();
        for (var i = 0; i < tokens.Count; i++) _batch.Add(tokens[i], i, Seq, logits: true);
        Decode();
        var rows = new float[tokens.Count][];
        for (var i = 0; i < tokens.Count; i++) rows[i] = _context.GetLogitsIth(i).ToArray();
        return rows;
    }

    /// <summary>Greedy decoding (argmax of the raw logits, first index on ties, no penalties) of
    /// <paramref name="count"/> tokens continuing <paramref name="promptTokens"/> as a fresh sequence.</summary>
    public int[] Greedy(IReadOnlyList<int> promptTokens, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckPrompt(promptTokens, count);
        var output = new int[count];
        if (count == 0) return output;
        Reset();
        for (var i = 0; i < promptTokens.Count; i++) _batch.Add(promptTokens[i], i, Seq, logits: i == promptTokens.Count - 1);
        Decode();
        var pos = promptTokens.Count;
        for (var n = 0; n < count; n++)
        {
            var next = ArgMax(_context.GetLogitsIth(_batch.TokenCount - 1));
            output[n] = next;
            if (n == count - 1) break;
            _batch.Clear();
            _batch.Add(next, pos++, Seq, logits: true);
            Decode();
        }
        return output;
    }

    /// <summary>Prefill of one batch of <paramref name="promptTokens"/> fixed ids, then
    /// <paramref name="genTokens"/> single-token decode steps (fixed ids, not sampled), as a fresh sequence
    /// each call. Returns tokens per second of each phase.</summary>
    public (double PrefillTokensPerSecond, double DecodeTokensPerSecond) Bench(int promptTokens, int genTokens)
    {
        var t = BenchPhases(promptTokens, genTokens);
        return (t.PrefillTokensPerSecond, t.DecodeTokensPerSecond);
    }

    /// <summary><see cref="Bench"/> with each phase's wall and process CPU seconds.</summary>
    public BenchPhaseTimes BenchPhases(int promptTokens, int genTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(promptTokens, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(genTokens);
        if (promptTokens + genTokens > ContextLength)
            throw new ArgumentOutOfRangeException(nameof(genTokens),
                $"prompt ({promptTokens}) plus generated ({genTokens}) tokens exceed the context ({ContextLength})");
        Reset();
        for (var i = 0; i < promptTokens; i++) _batch.Add(BenchToken(i), i, Seq, logits: i == promptTokens - 1);
        var cpu = CpuClock.Seconds();
        var sw = Stopwatch.StartNew();
        Decode();
        _context.Synchronize();
        var prefill = sw.Elapsed.TotalSeconds;
        var prefillCpu = CpuClock.Seconds() - cpu;

        cpu = CpuClock.Seconds();
        sw.Restart();
        for (var n = 0; n < genTokens; n++)
        {
            _batch.Clear();
            _batch.Add(BenchToken(promptTokens + n), promptTokens + n, Seq, logits: true);
            Decode();
        }
        _context.Synchronize();
        return new BenchPhaseTimes(promptTokens, genTokens, prefill, sw.Elapsed.TotalSeconds, prefillCpu, CpuClock.Seconds() - cpu);
    }

    /// <summary>Continuous batching as llama-server does it: <paramref name="streams"/> sequences, each prefilled with
    /// its own <paramref name="promptTokens"/> fixed ids (one batch per sequence, not timed), then
    /// <paramref name="genTokens"/> steps that each decode one fixed id of every sequence in one batch. Returns the
    /// decode phase's aggregate tokens per second (all sequences' tokens ÷ the steps' time).</summary>
    public double BenchStreams(int streams, int promptTokens, int genTokens)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(streams, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(streams, Sequences);
        ArgumentOutOfRangeException.ThrowIfLessThan(promptTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(genTokens, 1);
        if (promptTokens + genTokens > ContextLength)
            throw new ArgumentOutOfRangeException(nameof(genTokens),
                $"prompt ({promptTokens}) plus generated ({genTokens}) tokens exceed the context ({ContextLength})");
        Reset();
        // Each sequence its own ids (offset by a prime stride), so the streams route to different experts.
        int Token(int stream, int i) => BenchToken(i + stream * 1009);
        for (var s = 0; s < streams; s++)
        {
            _batch.Clear();
            for (var i = 0; i < promptTokens; i++) _batch.Add(Token(s, i), i, (LLamaSeqId)s, logits: i == promptTokens - 1);
            Decode();
        }
        _context.Synchronize();

        var sw = Stopwatch.StartNew();
        for (var n = 0; n < genTokens; n++)
        {
            _batch.Clear();
            for (var s = 0; s < streams; s++) _batch.Add(Token(s, promptTokens + n), promptTokens + n, (LLamaSeqId)s, logits: true);
            Decode();
        }
        _context.Synchronize();
        return (double)streams * genTokens / sw.Elapsed.TotalSeconds;
    }

    private int BenchToken(int i) => (int)((3L + 7L * i) % VocabSize);

    private void CheckPrompt(IReadOnlyList<int> tokens, int extra)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0) throw new ArgumentException("at least one token is needed", nameof(tokens));
        // The last generated token is never fed back, so a prompt of p tokens and c outputs needs p + c - 1 slots.
        if (tokens.Count + Math.Max(0, extra - 1) > ContextLength)
            throw new ArgumentException($"{tokens.Count} tokens (+{extra} generated) exceed the context ({ContextLength})", nameof(tokens));
        foreach (var t in tokens)
            if ((uint)t >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token id outside the vocabulary (0..{VocabSize - 1})");
    }

    /// <summary>Forgets every cached position so the next batch starts a new sequence at position 0.</summary>
    private void Reset()
    {
        _context.MemoryClear(data: true);
        _batch.Clear();
    }

    private void Decode()
    {
        var r = _context.Decode(_batch);
        if (r != DecodeResult.Ok)
        {
            var why = LlamaCppLog.TakeErrors();
            throw new InvalidOperationException(
                $"llama_decode failed: {r} ({(int)r}) for a batch of {_batch.TokenCount} tokens" + (why.Length > 0 ? ": " + why : ""));
        }
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = 0;
        for (var i = 1; i < row.Length; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _context.Dispose();
        _model.Dispose();
    }
}

/// <summary>One <see cref="LlamaCppModel.BenchPhases"/> run: tokens and seconds per phase, wall and the process's CPU
/// (every thread; with one thread and nothing spinning, the time the phase would take on a machine to itself).</summary>
public sealed record BenchPhaseTimes(int PromptTokens, int GenTokens, double PrefillSeconds, double DecodeSeconds,
    double PrefillCpuSeconds, double DecodeCpuSeconds)
{
    public double PrefillTokensPerSecond => PromptTokens / PrefillSeconds;
    public double DecodeTokensPerSecond => GenTokens == 0 ? 0 : GenTokens / DecodeSeconds;
    public double PrefillTokensPerCpuSecond => PromptTokens / PrefillCpuSeconds;
    public double DecodeTokensPerCpuSecond => GenTokens == 0 ? 0 : GenTokens / DecodeCpuSeconds;
}
