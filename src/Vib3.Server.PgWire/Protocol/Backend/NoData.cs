namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'n' NoData: the statement or portal returns no rows. Layout: 'n', Int32 length = 4 (no body).</summary>
internal sealed class NoData : IBackendMessage
{
    public static readonly NoData Instance = new();

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'n');
        buffer.End();
    }
}
