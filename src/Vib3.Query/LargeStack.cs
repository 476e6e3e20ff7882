using System.Runtime.ExceptionServices;

namespace Vib3.Query;

/// <summary>Runs work whose recursion is bounded by <see cref="NestingLimit"/> on a thread whose stack holds that
/// bound with room to spare, whichever thread asks (thread-pool threads have about 1.5 MiB).</summary>
internal static class LargeStack
{
    /// <summary>
    /// The stack of the thread: address space, of which only the pages used are committed. At the nesting limit,
    /// parsing and building the AST measured under 3 MiB (1,000 nested parentheses or calls), binding and evaluating
    /// under 2 MiB (1,000 nested calls), so the limit, not the stack, decides.
    /// </summary>
    public const int StackBytes = 16 << 20;

    /// <summary>Runs <paramref name="work"/> on a new thread with a <see cref="StackBytes"/> stack and waits for it;
    /// what it throws is rethrown here with its original stack trace.</summary>
    public static T Run<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }, StackBytes)
        {
            IsBackground = true,
            Name = "vib3 parser",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }
}
