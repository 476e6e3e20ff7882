using Vib3.Storage;
using Vib3.Storage.Tracing;

namespace Vib3.Models.Weights;

/// <summary>The pages a stream read and how each was found (cached, joined to a read under way, or read from disk):
/// what EXPLAIN ANALYZE counts per operator. Filled by the stream's own loop (one thread at a time); reused by
/// <see cref="Clear"/>.</summary>
public sealed class PageReadTally
{
    private PageReadOutcome[] _outcomes = new PageReadOutcome[64];
    private int[] _bytes = new int[64];

    public long Hits { get; private set; }

    public long Joined { get; private set; }

    public long FromDisk { get; private set; }

    public long Bytes { get; private set; }

    /// <summary>Bytes of the pages found in RAM.</summary>
    public long HitBytes { get; private set; }

    public long Pages => Hits + Joined + FromDisk;

    /// <summary>How the page at position <paramref name="index"/> of the last list streamed was found, and its bytes.</summary>
    public (PageReadOutcome Outcome, int Bytes) Of(int index) => (_outcomes[index], _bytes[index]);

    public void Clear()
    {
        (Hits, Joined, FromDisk, Bytes, HitBytes) = (0, 0, 0, 0, 0);
    }

    internal void Count(int index, PageLease lease)
    {
        var length = lease.Memory.Length;
        switch (lease.Outcome)
        {
            case PageReadOutcome.Hit:
                Hits++;
                HitBytes += length;
                break;
            case PageReadOutcome.Joined: Joined++; break;
            default: FromDisk++; break;
        }
        Bytes += length;
        if (index >= _outcomes.Length)
        {
            Array.Resize(ref _outcomes, Math.Max(index + 1, 2 * _outcomes.Length));
            Array.Resize(ref _bytes, _outcomes.Length);
        }
        _outcomes[index] = lease.Outcome;
        _bytes[index] = length;
    }
}
