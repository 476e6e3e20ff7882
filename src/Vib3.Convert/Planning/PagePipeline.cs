using System.Buffers;
using System.Collections.Concurrent;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>Builds pages on one thread (reading the source, converting types) while the calling thread appends
/// them to the page log, so source reads overlap log writes. At most <see cref="Depth"/> pages wait between the
/// two, which with the assembler's buffers bounds conversion memory whatever the model's size.</summary>
internal static class PagePipeline
{
    public const int Depth = 4;

    public static void Run(
        ConversionPlan plan, PageAssembler pages, ModelManifest manifest, PageLogWriter writer,
        Action<long> written, CancellationToken ct)
    {
        using var queue = new BlockingCollection<(byte[] Buffer, int Length)>(Depth);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                PageSequence.Produce(plan, pages, manifest, page =>
                {
                    var buffer = ArrayPool<byte>.Shared.Rent(page.Length);
                    page.CopyTo(buffer);
                    queue.Add((buffer, page.Length), stop.Token);
                }, stop.Token);
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        try
        {
            foreach (var (buffer, length) in queue.GetConsumingEnumerable(stop.Token))
            {
                try { writer.Append(buffer.AsSpan(0, length)); }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
                written(writer.BytesWritten);
            }
        }
        catch
        {
            stop.Cancel();
            Drain(queue);
            WaitQuietly(producer);
            throw;
        }
        producer.GetAwaiter().GetResult(); // the producer's own error (a bad source tensor, a read failure)
    }

    private static void Drain(BlockingCollection<(byte[] Buffer, int Length)> queue)
    {
        while (queue.TryTake(out var item)) ArrayPool<byte>.Shared.Return(item.Buffer);
    }

    private static void WaitQuietly(Task producer)
    {
        try { producer.Wait(); }
        catch (AggregateException) { /* the consumer's error is the one to report */ }
    }
}
