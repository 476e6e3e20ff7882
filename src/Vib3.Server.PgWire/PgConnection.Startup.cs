using Vib3.Engine;
using Vib3.Server.PgWire.Protocol;
using Vib3.Server.PgWire.Protocol.Backend;
using Vib3.Server.PgWire.Protocol.Frontend;

namespace Vib3.Server.PgWire;

/// <summary>The startup phase: SSL/GSSENC refusals, the StartupMessage, authentication (trust, or SCRAM-SHA-256 when
/// the server has a password), then the parameters, BackendKeyData and the first ReadyForQuery.</summary>
internal sealed partial class PgConnection
{
    /// <summary>Answers SSL/GSSENC requests with 'N' until the StartupMessage; null when the connection should just close.</summary>
    private async Task<StartupMessage?> HandshakeAsync(PgMessageReader reader, CancellationToken stopping)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(_options.StartupTimeout);
        for (var attempt = 0; ; attempt++)
        {
            var message = await reader.ReadStartupAsync(timeout.Token).ConfigureAwait(false);
            switch (message)
            {
                case null:
                    return null;
                case SslRequest or GssEncRequest when attempt < MaxNegotiations:
                    _out.WriteByte((byte)'N'); // a bare byte, not a framed message
                    await FlushAsync(timeout.Token).ConfigureAwait(false);
                    continue;
                case SslRequest or GssEncRequest:
                    throw new PgProtocolException("too many encryption negotiation requests");
                case CancelRequest c:
                    _server.Cancel(c.ProcessId, c.SecretKey); // keys that match no connection are ignored
                    return null; // a CancelRequest never gets a reply
                case StartupMessage { Major: not 3 } s:
                    throw new PgProtocolException($"unsupported frontend protocol {s.Major}.{s.Minor}: server supports 3.0 to 3.0",
                        "0A000");
                case StartupMessage s:
                    var extensions = s.Parameters.Keys.Where(k => k.StartsWith("_pq_.", StringComparison.Ordinal)).ToList();
                    if (s.Minor > 0 || extensions.Count > 0)
                        new NegotiateProtocolVersion(0, extensions).Write(_out);
                    if (string.IsNullOrEmpty(s.Get("user")))
                        throw new PgProtocolException("no PostgreSQL user name specified in startup packet", "28000");
                    return s;
                default:
                    throw new PgProtocolException("unexpected startup packet");
            }
        }
    }

    /// <summary>Trust when no password is set; otherwise a SCRAM-SHA-256 exchange (AuthenticationSASL, the client's
    /// SASLInitialResponse, AuthenticationSASLContinue, its SASLResponse, AuthenticationSASLFinal). False when the
    /// client left; a wrong password throws 28P01, a malformed exchange 08P01.</summary>
    private async Task<bool> AuthenticateAsync(PgMessageReader reader, StartupMessage startup, CancellationToken stopping)
    {
        if (_server.Scram is not { } scram) return true;
        var user = startup.Get("user")!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        timeout.CancelAfter(_options.StartupTimeout);
        new AuthenticationSasl([ScramSha256.Mechanism]).Write(_out);
        await FlushAsync(timeout.Token).ConfigureAwait(false);

        var initial = await ReadSaslAsync(reader, timeout.Token).ConfigureAwait(false);
        if (initial is null) return false;
        var first = SaslInitialResponse.Read(initial);
        if (first.Mechanism != ScramSha256.Mechanism)
            throw new PgProtocolException("client selected an invalid SASL authentication mechanism");
        if (first.Data is null) throw new PgProtocolException("malformed SCRAM message (no initial response)");
        var exchange = scram.Start();
        try
        {
            new AuthenticationSaslContinue(exchange.First(first.Data)).Write(_out);
            await FlushAsync(timeout.Token).ConfigureAwait(false);
            var response = await ReadSaslAsync(reader, timeout.Token).ConfigureAwait(false);
            if (response is null) return false;
            var serverFinal = exchange.Final(SaslResponse.Read(response))
                ?? throw new PgProtocolException($"password authentication failed for user \"{user}\"", "28P01");
            new AuthenticationSaslFinal(serverFinal).Write(_out); // AuthenticationOk follows with the startup response
            return true;
        }
        catch (FormatException e)
        {
            throw new PgProtocolException(e.Message);
        }
    }

    /// <summary>The body of the next 'p' message; null when the client closed instead.</summary>
    private static async Task<byte[]?> ReadSaslAsync(PgMessageReader reader, CancellationToken ct)
    {
        var message = await reader.ReadAuthenticationMessageAsync(ct).ConfigureAwait(false);
        return message switch
        {
            null or TerminateMessage => null,
            UnsupportedMessage { Type: (byte)'p' } p => p.Body,
            _ => throw new PgProtocolException("expected SASL response"),
        };
    }

    private async Task SendStartupResponseAsync(StartupMessage startup, ClientAccess access, CancellationToken ct)
    {
        var user = startup.Get("user")!;
        AuthenticationOk.Instance.Write(_out); // after AuthenticationSASLFinal when a password was asked
        foreach (var (name, value) in new (string, string)[]
                 {
                     ("server_version", _options.ServerVersion),
                     ("server_encoding", "UTF8"),
                     ("client_encoding", "UTF8"),
                     ("DateStyle", "ISO, MDY"),
                     ("IntervalStyle", "postgres"),
                     ("TimeZone", "UTC"),
                     ("integer_datetimes", "on"),
                     ("standard_conforming_strings", "on"),
                     ("application_name", startup.Get("application_name") ?? ""),
                     ("is_superuser", access.Administrator ? "on" : "off"),
                     ("session_authorization", user),
                 })
            new ParameterStatus(name, value).Write(_out);
        new BackendKeyData(_processId, SecretKey).Write(_out);
        ReadyForQuery.Idle.Write(_out);
        await FlushAsync(ct).ConfigureAwait(false);
    }
}
