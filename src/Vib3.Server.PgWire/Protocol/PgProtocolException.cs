namespace Vib3.Server.PgWire.Protocol;

/// <summary>The client broke the protocol (bad length, unknown startup code, malformed body): the server answers
/// ErrorResponse FATAL with <see cref="SqlState"/> (08P01 unless said otherwise) and closes the connection. Also
/// thrown for the other ends of a connection that PostgreSQL reports as FATAL: a limit passed (54000), an idle
/// timeout (57P05, 25P03).</summary>
internal sealed class PgProtocolException(string message, string sqlState = PgProtocolException.ProtocolViolation) : Exception(message)
{
    public const string ProtocolViolation = "08P01";

    public string SqlState { get; } = sqlState;
}
