namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>GSSENCRequest (before the startup message): Int32 length = 8 (length 4 + code 4), Int32 80877104
/// (1234 high, 5680 low). vib3 answers 'N' (no GSSAPI encryption); closing instead would break psql for
/// users who hold Kerberos credentials.</summary>
internal sealed class GssEncRequest : IFrontendMessage
{
    public const int Code = 80877104;
    public static readonly GssEncRequest Instance = new();
}
