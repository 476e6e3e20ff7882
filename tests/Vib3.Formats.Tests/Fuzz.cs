using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Vib3.Core;

namespace Vib3.Formats.Tests;

/// <summary>Seeded mutation fuzzing with a bounded budget: each case mutates a small valid input and runs a reader
/// on it, which must either succeed or throw a <see cref="Vib3Exception"/> (nothing else escapes), allocate less than
/// a bound, and finish: the whole run is on a thread of its own and fails if it outlives its time.</summary>
public static class Fuzz
{
    /// <summary>The seed CI runs (VIB3_FUZZ_SEED replays or explores another).</summary>
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("VIB3_FUZZ_SEED"), out var s) ? s : 16;

    /// <summary>Seconds per target: 3 in CI, longer for a soak (VIB3_FUZZ_SECONDS).</summary>
    public static TimeSpan Budget => TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("VIB3_FUZZ_SECONDS"), out var s) ? s : 3);

    /// <summary>Cases per target at most: enough for the budget on a slow machine, bounded on a fast one.</summary>
    public const int MaxCases = 3000;

    /// <summary>Cases every target runs whatever the clock says: a loaded machine runs fewer cases in the budget, never
    /// fewer than these (the budget bounds the exploration, not the check).</summary>
    public const int MinCases = 100;

    /// <summary>Runs cases 0, 1, ... from <paramref name="seed"/> until <paramref name="budget"/> is spent (but at least
    /// <see cref="MinCases"/>) or <paramref name="maxCases"/> ran; returns how many ran. A failure names the seed and case to replay.</summary>
    public static int Run(int seed, TimeSpan budget, int maxCases, long maxBytesPerCase, Action<Random> oneCase)
    {
        var ran = 0;
        var clock = Stopwatch.StartNew();
        var error = SpecialFiles.ThrownWithin(() =>
        {
            for (; ran < maxCases && (ran < MinCases || clock.Elapsed < budget); ran++)
            {
                var random = new Random(HashCode.Combine(seed, ran));
                var (bytes, e) = SpecialFiles.Allocated(() => oneCase(random));
                if (e is not null and not Vib3Exception)
                    throw new InvalidOperationException($"seed {seed} case {ran}: {e.GetType().Name} escaped: {e.Message} {e.StackTrace}", e);
                if (e is Vib3Exception { Message: var m } && m.Contains('\n'))
                    throw new InvalidOperationException($"seed {seed} case {ran}: a multi-line error: {m}");
                if (bytes > maxBytesPerCase)
                    throw new InvalidOperationException($"seed {seed} case {ran}: allocated {bytes} bytes (bound {maxBytesPerCase})");
            }
        }, seconds: (int)budget.TotalSeconds + 120);
        if (error is not null) Assert.Fail(error.Message);
        return ran;
    }

    private static readonly ulong[] Interesting =
    [
        0, 1, 2, 7, 8, 255, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0x1_0000_0001, 300_000_000,
        long.MaxValue, 1UL << 63, ulong.MaxValue,
    ];

    /// <summary>One to four byte-level mutations inside [0, <paramref name="limit"/>): bit flips, an "interesting"
    /// 32- or 64-bit value (counts, lengths, offsets), a truncation, or a slice copied elsewhere.</summary>
    public static byte[] MutateBytes(Random r, byte[] input, int limit)
    {
        var b = (byte[])input.Clone();
        limit = Math.Min(limit, b.Length);
        for (var n = r.Next(1, 5); n > 0; n--)
        {
            var at = r.Next(limit);
            switch (r.Next(5))
            {
                case 0:
                    b[at] ^= (byte)(1 << r.Next(8));
                    break;
                case 1 when at + 8 <= b.Length:
                    BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), Interesting[r.Next(Interesting.Length)]);
                    break;
                case 2 when at + 4 <= b.Length:
                    BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), (uint)Interesting[r.Next(Interesting.Length)]);
                    break;
                case 3:
                    return b[..at];
                default:
                    var from = r.Next(limit);
                    var len = r.Next(1, 16);
                    if (from + len <= b.Length && at + len <= b.Length) b.AsSpan(from, len).CopyTo(b.AsSpan(at));
                    break;
            }
        }
        return b;
    }

    private static readonly Func<Random, JsonNode?>[] Values =
    [
        _ => null, _ => true, _ => -1, _ => int.MaxValue, _ => int.MinValue, _ => long.MaxValue, _ => 1.5,
        _ => JsonNode.Parse("1e400"), _ => JsonNode.Parse("-0"), _ => "", _ => "x", _ => "\u0000\uFFFF",
        _ => new JsonArray(), _ => new JsonObject(), _ => new JsonArray(1, "a", null), _ => new JsonObject { ["a"] = 1 },
        r => r.Next(-5, 70_000), r => new JsonArray(r.Next(), r.Next()),
    ];

    /// <summary>One to three structural mutations of a JSON document: a value (anywhere in the tree) replaced by one of
    /// another type or an extreme number, or a property removed.</summary>
    public static string MutateJson(Random r, string json)
    {
        var root = JsonNode.Parse(json)!;
        for (var n = r.Next(1, 4); n > 0; n--)
        {
            var nodes = new List<JsonNode>();
            Collect(root, nodes);
            var target = nodes[r.Next(nodes.Count)];
            var parent = target.Parent;
            if (parent is null) continue;
            var value = Values[r.Next(Values.Length)](r);
            switch (parent)
            {
                case JsonObject o:
                    var name = target.GetPropertyName();
                    if (r.Next(6) == 0) o.Remove(name);
                    else o[name] = value;
                    break;
                case JsonArray a:
                    a[target.GetElementIndex()] = value;
                    break;
            }
        }
        return root.ToJsonString();
    }

    private static void Collect(JsonNode? node, List<JsonNode> into)
    {
        if (node is null) return;
        into.Add(node);
        if (node is JsonObject o) foreach (var (_, v) in o) Collect(v, into);
        else if (node is JsonArray a) foreach (var v in a) Collect(v, into);
    }
}
