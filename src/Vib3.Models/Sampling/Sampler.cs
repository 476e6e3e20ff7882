using System.Security.Cryptography;
using Vib3.Kernels;

namespace Vib3.Models.Sampling;

/// <summary>Picks the next token from a logits row. Steps, in order: repetition penalty, presence and frequency
/// penalties (over the generated tokens only), top-k, softmax with
/// temperature, top-p, min-p, draw (temperature 0: arg-max after the penalty). Holds its own generator, so one
/// sampler per sequence; not thread-safe.</summary>
public sealed class Sampler
{
    private readonly SamplerOptions _options;
    private readonly SamplerRandom _random;
    private float[] _logits = [];
    private int[] _ids = [];
    private double[] _probs = [];

    public Sampler(SamplerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        Seed = options.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        _random = new SamplerRandom(Seed);
    }

    /// <summary>The seed in use (the drawn one when the options gave none), so a run can be repeated.</summary>
    public ulong Seed { get; }

    /// <param name="history">The prompt's tokens followed by those generated so far.</param>
    /// <param name="promptLength">How many of <paramref name="history"/> are the prompt's (the presence and frequency
    /// penalties look only at the rest).</param>
    public int Next(ReadOnlySpan<float> logits, IReadOnlyList<int> history, int promptLength = 0)
    {
        if (logits.IsEmpty) throw new ArgumentException("empty logits", nameof(logits));
        var n = logits.Length;
        if (_logits.Length < n)
        {
            _logits = new float[n];
            _ids = new int[n];
            _probs = new double[n];
        }
        var l = _logits.AsSpan(0, n);
        logits.CopyTo(l);
        for (var i = 0; i < n; i++) if (float.IsNaN(l[i])) l[i] = float.NegativeInfinity;
        ApplyRepetitionPenalty(l, history);
        ApplyPresenceAndFrequency(l, history, promptLength);

        if (_options.Temperature <= 0) return VectorOps.ArgMax(l);

        // top-k (candidates sorted by logit, descending, when any filter needs an order)
        var needSorted = _options.TopK > 0 || _options.TopP < 1 || _options.MinP > 0;
        var count = n;
        var ids = _ids.AsSpan(0, n);
        for (var i = 0; i < n; i++) ids[i] = i;
        if (_options.TopK > 0 && _options.TopK < n) count = SelectTopK(_logits, ids, _options.TopK);
        else if (needSorted) SortByLogit(_logits, ids);
        ids = ids[..count];

        // softmax with temperature
        var probs = _probs.AsSpan(0, count);
        var max = float.NegativeInfinity;
        foreach (var id in ids) max = Math.Max(max, l[id]);
        if (float.IsNegativeInfinity(max)) return ids[0];
        double sum = 0;
        var invT = 1.0 / _options.Temperature;
        for (var i = 0; i < count; i++)
        {
            probs[i] = Math.Exp((l[ids[i]] - max) * invT);
            sum += probs[i];
        }
        for (var i = 0; i < count; i++) probs[i] /= sum;

        // top-p: the smallest prefix (by probability) reaching P
        if (_options.TopP < 1)
        {
            double cum = 0;
            for (var i = 0; i < count; i++)
            {
                cum += probs[i];
                if (cum >= _options.TopP) { count = i + 1; break; }
            }
        }

        // min-p: relative to the most likely token (first, as the list is sorted whenever this runs)
        if (_options.MinP > 0)
        {
            var floor = probs[0] * _options.MinP;
            var kept = 1;
            while (kept < count && probs[kept] >= floor) kept++;
            count = kept;
        }

        double total = 0;
        for (var i = 0; i < count; i++) total += probs[i];
        var r = _random.NextDouble() * total;
        for (var i = 0; i < count; i++)
        {
            r -= probs[i];
            if (r < 0) return ids[i];
        }
        return ids[count - 1];
    }

    private void ApplyRepetitionPenalty(Span<float> l, IReadOnlyList<int> history)
    {
        var penalty = _options.RepetitionPenalty;
        if (penalty == 1 || history is null || history.Count == 0 || _options.RepetitionWindow == 0) return;
        var start = _options.RepetitionWindow < 0 ? 0 : Math.Max(0, history.Count - _options.RepetitionWindow);
        var seen = new HashSet<int>();
        for (var i = start; i < history.Count; i++)
        {
            var id = history[i];
            if ((uint)id >= (uint)l.Length || !seen.Add(id)) continue;
            l[id] = l[id] > 0 ? l[id] / penalty : l[id] * penalty;
        }
    }

    private void ApplyPresenceAndFrequency(Span<float> l, IReadOnlyList<int> history, int promptLength)
    {
        if ((_options.PresencePenalty == 0 && _options.FrequencyPenalty == 0) || history is null) return;
        var counts = new Dictionary<int, int>();
        for (var i = Math.Max(0, promptLength); i < history.Count; i++)
            if ((uint)history[i] < (uint)l.Length) counts[history[i]] = counts.GetValueOrDefault(history[i]) + 1;
        foreach (var (id, count) in counts)
            l[id] -= _options.PresencePenalty + _options.FrequencyPenalty * count;
    }

    /// <summary>Order: higher logit first, lower id first among equals (so results never depend on the sort).</summary>
    private static int Compare(ReadOnlySpan<float> l, int a, int b)
    {
        var c = l[b].CompareTo(l[a]);
        return c != 0 ? c : a.CompareTo(b);
    }

    private static void SortByLogit(float[] l, Span<int> ids) => ids.Sort((a, b) => Compare(l, a, b));

    /// <summary>Moves the k best ids to the front, sorted; returns k. A min-heap of size k: O(n log k).</summary>
    private static int SelectTopK(float[] l, Span<int> ids, int k)
    {
        var heap = ids[..k];
        // heap root = worst of the kept (largest by Compare)
        for (var i = k / 2 - 1; i >= 0; i--) SiftDown(l, heap, i);
        for (var i = k; i < ids.Length; i++)
        {
            var id = ids[i];
            if (Compare(l, id, heap[0]) < 0)
            {
                heap[0] = id;
                SiftDown(l, heap, 0);
            }
        }
        heap.Sort((a, b) => Compare(l, a, b));
        return k;
    }

    private static void SiftDown(float[] l, Span<int> heap, int i)
    {
        while (true)
        {
            var left = 2 * i + 1;
            if (left >= heap.Length) return;
            var worst = left;
            if (left + 1 < heap.Length && Compare(l, heap[left + 1], heap[left]) > 0) worst = left + 1;
            if (Compare(l, heap[worst], heap[i]) <= 0) return;
            (heap[i], heap[worst]) = (heap[worst], heap[i]);
            i = worst;
        }
    }
}
