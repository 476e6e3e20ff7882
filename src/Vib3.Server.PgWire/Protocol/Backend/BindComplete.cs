namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'2' BindComplete: Bind succeeded: the portal is ready. Layout: '2', Int32 length = 4 (no body).</summary>
internal sealed class BindComplete : IBackendMessage
{
    public static readonly BindComplete Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'2');
        buffer.End();
    }
}
