using System.Net.Sockets;
using Vib3.Server.PgWire.Protocol;
using Vib3.Server.PgWire.Protocol.Backend;
using Vib3.Server.PgWire.Protocol.Frontend;

namespace Vib3.Server.PgWire;

/// <summary>Turns away a connection accepted while <see cref="PgServerOptions.MaxConnections"/> are open: FATAL 53300
/// "sorry, too many clients already" (PostgreSQL's words), no session and no per-connection state.</summary>
internal static class TooManyClients
{
    /// <summary>How long a refused client is given to send its startup packet. The refusal follows that packet, as
    /// PostgreSQL's does: a client that asked for SSL first is told 'N' and then reads the error as the answer to its
    /// startup (libpq does not show an error that answers an SSL request); reading what the client sent also lets the
    /// close end in a FIN rather than a reset that could destroy the error; and a CancelRequest is still honoured when
    /// the server is full. A client that sends nothing gets the error when the grace ends.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    /// <summary>SSL/GSSENC requests answered before giving up on a startup packet (a client tries each once).</summary>
    private const int MaxNegotiations = 2;

    private static readonly byte[] Refusal = Build();

    private static byte[] Build()
    {
        var buffer = new MessageBuffer();
        new ErrorResponse(new ErrorFields("FATAL", PgSqlState.TooManyConnections, "sorry, too many clients already")).Write(buffer);
        return buffer.Written.ToArray();
    }

    private static readonly byte[] NoEncryption = [(byte)'N'];

    /// <summary>Reads the client's startup packet for at most <see cref="Grace"/> (cancelling what a CancelRequest
    /// names, which gets no reply), answers with the refusal, then closes.</summary>
    public static async Task RefuseAsync(TcpClient client, Action<CancelRequest> cancel)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using (var grace = new CancellationTokenSource(Grace))
                {
                    var reader = new PgMessageReader(stream);
                    for (var attempt = 0; attempt <= MaxNegotiations; attempt++)
                    {
                        var packet = await WaitAsync(reader.ReadStartupAsync(grace.Token)).ConfigureAwait(false);
                        if (packet is CancelRequest c)
                        {
                            cancel(c);
                            return;
                        }
                        if (packet is not (SslRequest or GssEncRequest) || attempt == MaxNegotiations) break;
                        await stream.WriteAsync(NoEncryption, grace.Token).ConfigureAwait(false);
                    }
                }
                using var write = new CancellationTokenSource(Grace);
                await stream.WriteAsync(Refusal, write.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException
                                           or PgProtocolException)
            {
                // The client left or sent garbage: it has its answer either way.
            }
        }
    }

    /// <summary>The packet, or null when the grace ran out first (the refusal goes out anyway).</summary>
    private static async Task<IFrontendMessage?> WaitAsync(Task<IFrontendMessage?> read)
    {
        try { return await read.ConfigureAwait(false); }
        catch (OperationCanceledException) { return null; }
    }
}
