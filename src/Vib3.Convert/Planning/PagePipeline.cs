using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Vib3.Storage;
using Vib3.Storage.Catalog;

namespace Vib3.Convert.Planning;

/// <summary>Builds pages on one thread (reading the source, converting types) while the calling thread appends
/// them to the page log, so source reads overlap log writes. At most <see cref="Depth"/> pages wait between the
/// two, which with the assembler's buffers bounds conversion memory whatever the model's size. Whichever side
/// fails first stops the other, and its error is the one reported.</summary>
internal static class PagePipeline
{
    public const int Depth = 4;

    public static void Run(
        ConversionPlan plan, PageAssembler pages, ModelManifest manifest, PageLogWriter writer,
        Action<long> written, CancellationToken ct)
    {
        using var queue = new BlockingCollection<(byte[] Buffer, int Length)>(Depth);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var producer = Task.Factory.StartNew(
            () => Produce(plan, pages, manifest, queue, stop), stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

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
            var producerError = WaitForProducer(producer);
            Drain(queue);
            if (producerError is not null) ExceptionDispatchInfo.Throw(producerError);
            throw;
        }
        producer.GetAwaiter().GetResult();
    }

    private static void Produce(
        ConversionPlan plan, PageAssembler pages, ModelManifest manifest,
        BlockingCollection<(byte[] Buffer, int Length)> queue, CancellationTokenSource stop)
    {
        try
        {
            PageSequence.Produce(plan, pages, manifest, page =>
            {
                var buffer = ArrayPool<byte>.Shared.Rent(page.Length);
                try
                {
                    page.CopyTo(buffer);
                    queue.Add((buffer, page.Length), stop.Token);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }
            }, stop.Token);
        }
        catch
        {
            stop.Cancel(); // a bad source read: stop appending what is queued
            throw;
        }
        finally
        {
            queue.CompleteAdding();
        }
    }

    /// <summary>The producer's own failure (not its cancellation), once it has stopped.</summary>
    private static Exception? WaitForProducer(Task producer)
    {
        try
        {
            producer.Wait();
            return null;
        }
        catch (AggregateException e)
        {
            var inner = e.InnerException;
            return inner is OperationCanceledException ? null : inner;
        }
    }

    private static void Drain(BlockingCollection<(byte[] Buffer, int Length)> queue)
    {
        while (queue.TryTake(out var item)) ArrayPool<byte>.Shared.Return(item.Buffer);
    }
}
