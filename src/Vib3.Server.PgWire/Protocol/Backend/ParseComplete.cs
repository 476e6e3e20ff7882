namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'1' ParseComplete: Parse succeeded. Layout: '1', Int32 length = 4 (no body).</summary>
internal sealed class ParseComplete : IBackendMessage
{
    public static readonly ParseComplete Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'1');
        buffer.End();
    }
}
