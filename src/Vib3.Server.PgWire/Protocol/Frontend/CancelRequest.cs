namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>CancelRequest (on a new connection, instead of a startup message): Int32 length = 16 (length 4 +
/// code 4 + process id 4 + secret 4), Int32 80877102 (1234 high, 5678 low), Int32 process id, Int32 secret key,
/// both as BackendKeyData gave them. The server never replies; it closes the connection.</summary>
internal sealed class CancelRequest(int processId, int secretKey) : IFrontendMessage
{
    public const int Code = 80877102;
    public int ProcessId { get; } = processId;
    public int SecretKey { get; } = secretKey;
}
