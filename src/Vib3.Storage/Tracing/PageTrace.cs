using Vib3.Core;

namespace Vib3.Storage.Tracing;

/// <summary>A trace file read back: the pages' classes and lengths, every read in order, and where each step starts.</summary>
/// <param name="PageBytes">Length of each page of the model, by page id.</param>
/// <param name="StepStarts">Index into <paramref name="Pages"/> of each step's first read, ascending.</param>
public sealed record PageTrace(string Model, PageClassMap Classes, int[] PageBytes, int[] Pages, PageReadOutcome[] Outcomes, int[] StepStarts)
{
    public static PageTrace Read(string path)
    {
        using var input = new BinaryReader(File.OpenRead(path));
        try
        {
            if (!input.ReadBytes(PageTraceFormat.Magic.Length).AsSpan().SequenceEqual(PageTraceFormat.Magic))
                throw Bad(path, "not a vib3 page trace (bad magic)");
            var model = input.ReadString();
            var count = input.ReadInt32();
            if (count < 0 || count > PageTraceFormat.MaxPages) throw Bad(path, $"page count {count} is out of range");
            var classes = new PageClass[count];
            var lengths = new int[count];
            for (var p = 0; p < count; p++)
            {
                var kind = input.ReadByte();
                if (kind > (byte)PageKind.Sparse) throw Bad(path, $"page {p} has unknown kind {kind}");
                classes[p] = new PageClass((PageKind)kind, input.ReadInt16(), input.ReadInt16());
                lengths[p] = input.ReadInt32();
                if (lengths[p] <= 0) throw Bad(path, $"page {p} has length {lengths[p]}");
            }
            var records = (input.BaseStream.Length - input.BaseStream.Position) / sizeof(uint);
            var pages = new List<int>((int)Math.Min(records, int.MaxValue));
            var outcomes = new List<PageReadOutcome>(pages.Capacity);
            var steps = new List<int>();
            for (long i = 0; i < records; i++)
            {
                var r = input.ReadUInt32();
                if (r == PageTraceFormat.StepMarker) { steps.Add(pages.Count); continue; }
                var page = (int)(r & PageTraceFormat.PageMask);
                var outcome = r >> PageTraceFormat.OutcomeShift;
                if (page >= count || outcome > (uint)PageReadOutcome.Joined)
                    throw Bad(path, $"record {i} (0x{r:x8}) names page {page} of {count} or outcome {outcome}");
                pages.Add(page);
                outcomes.Add((PageReadOutcome)outcome);
            }
            return new PageTrace(model, new PageClassMap(classes), lengths, pages.ToArray(), outcomes.ToArray(), steps.ToArray());
        }
        catch (EndOfStreamException)
        {
            throw Bad(path, "the header is cut short");
        }
    }

    private static Vib3Exception Bad(string path, string why) => new(SqlState.DataCorrupted, $"trace {path}: {why}");
}
