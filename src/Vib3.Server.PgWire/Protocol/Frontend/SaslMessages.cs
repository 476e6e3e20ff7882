using System.Text;

namespace Vib3.Server.PgWire.Protocol.Frontend;

/// <summary>'p' SASLInitialResponse: cstring mechanism, Int32 length of the initial response (-1 for none), then
/// that many bytes (for SCRAM the client-first-message). It shares the type byte 'p' with SASLResponse and
/// PasswordMessage, so the reader hands it over as an <see cref="UnsupportedMessage"/> and this parses the body.</summary>
internal sealed class SaslInitialResponse(string mechanism, string? data)
{
    public string Mechanism { get; } = mechanism;
    public string? Data { get; } = data;

    public static SaslInitialResponse Read(byte[] body)
    {
        var r = new BodyReader(body, "SASLInitialResponse");
        var mechanism = r.ReadCString();
        var length = r.ReadInt32();
        string? data = null;
        if (length != -1)
        {
            if (length < 0) throw new PgProtocolException($"invalid SASL response length {length}");
            data = Ascii(r.ReadBytes(length));
        }
        r.End();
        return new SaslInitialResponse(mechanism, data);
    }

    internal static string Ascii(byte[] bytes)
    {
        foreach (var b in bytes)
            if (b is 0 or > 127) throw new PgProtocolException("malformed SCRAM message (not printable ASCII)");
        return Encoding.ASCII.GetString(bytes);
    }
}

/// <summary>'p' SASLResponse: the rest of the body is the mechanism's data (for SCRAM the client-final-message).</summary>
internal static class SaslResponse
{
    public static string Read(byte[] body) => SaslInitialResponse.Ascii(body);
}
