using System.Runtime.InteropServices;

namespace Vib3.Cli;

/// <summary>SIGINT and SIGTERM for a long-running command (`vib3 serve`): the first one asks it to stop
/// (<see cref="Stopping"/>) and lets it drain; a second one ends the process at once with 128 + the signal's
/// number (130 for a second Ctrl-C, 143 for a second SIGTERM), as shells report a process killed by it.</summary>
internal sealed class ShutdownSignals : IDisposable
{
    private const int SigInt = 2;
    private const int SigTerm = 15;

    private readonly CancellationTokenSource _stopping = new();
    private readonly TextWriter _output;
    private readonly PosixSignalRegistration _sigInt;
    private readonly PosixSignalRegistration _sigTerm;
    private int _received;

    public ShutdownSignals(TextWriter output)
    {
        _output = output;
        _sigInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, "SIGINT", SigInt));
        _sigTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, "SIGTERM", SigTerm));
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Stopping => _stopping.Token;

    private void OnSignal(PosixSignalContext context, string name, int number)
    {
        context.Cancel = true; // the process decides when it ends, not the runtime's default handler
        if (Interlocked.Increment(ref _received) > 1)
        {
            _output.WriteLine($"vib3: {name} while stopping: exiting now");
            _output.Flush();
            Environment.Exit(128 + number);
        }
        _output.WriteLine($"vib3: {name}: stopping (a second signal exits at once)");
        _output.Flush();
        // not on the signal thread: the cancellation runs the serve command's continuations, which must not hold it
        _ = Task.Run(_stopping.Cancel);
    }

    public void Dispose()
    {
        _sigInt.Dispose();
        _sigTerm.Dispose();
        _stopping.Dispose();
    }
}
