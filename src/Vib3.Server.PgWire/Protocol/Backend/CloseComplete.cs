namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'3' CloseComplete: Close succeeded (also for a name that did not exist). Layout: '3', Int32 length = 4 (no body).</summary>
internal sealed class CloseComplete : IBackendMessage
{
    public static readonly CloseComplete Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'3');
        buffer.End();
    }
}
