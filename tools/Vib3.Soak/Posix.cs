using System.Runtime.InteropServices;

namespace Vib3.Soak;

/// <summary>Sends a signal to a process the soak started. .NET's Process.Kill sends only SIGKILL; a server must also
/// be stopped the way docker, systemd and Ctrl-C stop it (SIGTERM, SIGINT).</summary>
internal static partial class Posix
{
    public const int SigKill = 9, SigTerm = 15;

    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
