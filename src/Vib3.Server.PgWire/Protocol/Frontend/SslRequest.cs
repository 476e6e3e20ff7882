namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>SSLRequest (no type byte, it comes before the startup message): Int32 length = 8 (the length field 4 +
/// the request code 4), Int32 80877103 (1234 in the high 16 bits, 5679 in the low). vib3 answers the single byte
/// 'N' (no TLS) and the client goes on with a StartupMessage in clear.</summary>
internal sealed class SslRequest : IFrontendMessage
{
    public const int Code = 80877103;
    public static readonly SslRequest Instance = new();
}
