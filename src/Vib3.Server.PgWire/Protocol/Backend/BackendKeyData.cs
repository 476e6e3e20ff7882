namespace Vib3.Server.PgWire.Protocol.Backend;

/// <summary>'K' BackendKeyData: what a CancelRequest must quote to cancel this connection's statement.
/// Layout: 'K', Int32 length = 12 (length 4 + process id 4 + secret key 4; protocol 3.0 keys are 4 bytes),
/// Int32 process id, Int32 secret key.</summary>
internal sealed class BackendKeyData(int processId, int secretKey) : IBackendMessage
{
    public int ProcessId { get; } = processId;
    public int SecretKey { get; } = secretKey;

    public void Write(MessageBuffer buffer)
    {
        buffer.Begin((byte)'K');
        buffer.WriteInt32(ProcessId);
        buffer.WriteInt32(SecretKey);
        buffer.End();
    }
}
