namespace Vib3.Cli;

/// <summary>A command line that cannot work whatever the state of the machine (a port out of range, an address
/// that is not one): reported as one line, exit <see cref="Vib3Cli.ExitUsage"/>.</summary>
internal sealed class UsageException(string message) : Exception(message);
