using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Server.PgWire.Protocol;
using Vib3.Server.PgWire.Protocol.Backend;
using Vib3.Server.PgWire.Protocol.Frontend;

namespace Vib3.Server.PgWire;

/// <summary>One client: the startup handshake, then simple and extended queries until Terminate or the socket closes.</summary>
internal sealed partial class PgConnection
{
    /// <summary>SSL/GSSENC refusals accepted before the startup message (a client tries each at most once).</summary>
    private const int MaxNegotiations = 2;

    /// <summary>A row that took at least this long to produce (a streamed token) is sent at once.</summary>
    private static readonly TimeSpan SlowRow = TimeSpan.FromMilliseconds(1);

    /// <summary>Buffered output beyond this is sent even while rows keep coming fast.</summary>
    private const int FlushThreshold = 64 << 10;

    private readonly TcpClient _client;
    private readonly Vib3Engine _engine;
    private readonly PgServer _server;
    private readonly PgServerOptions _options;
    private readonly int _processId;
    private readonly MessageBuffer _out = new();
    private readonly Lock _cancelGate = new();
    private Stream _stream = Stream.Null;
    private CancellationToken _stopping;

    /// <summary>Cancels the statement running now (a simple query, or the extended messages up to Sync); created
    /// when a statement starts, dropped when ReadyForQuery goes out, so a CancelRequest while idle cancels nothing.</summary>
    private CancellationTokenSource? _statementCts;

    /// <summary>Fires after <see cref="PgServerOptions.StatementTimeout"/> and cancels <see cref="_statementCts"/> with it;
    /// null when there is no limit or no statement.</summary>
    private CancellationTokenSource? _statementTimeout;

    /// <summary>While a statement runs, checks every <see cref="DisconnectCheckInterval"/> whether the client hung up
    /// (nothing reads the socket meanwhile), and cancels the statement if it did: a GENERATE does not run on for
    /// nobody.</summary>
    private Timer? _disconnectCheck;

    private static readonly TimeSpan DisconnectCheckInterval = TimeSpan.FromMilliseconds(100);

    public PgConnection(TcpClient client, Vib3Engine engine, PgServer server, PgServerOptions options, int processId)
    {
        _client = client;
        _engine = engine;
        _server = server;
        _options = options;
        _processId = processId;
        SecretKey = RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
    }

    public int ProcessId => _processId;

    /// <summary>The BackendKeyData secret a CancelRequest must quote.</summary>
    public int SecretKey { get; }

    /// <summary>Cancels the running statement, if any (a CancelRequest with this connection's keys arrived).</summary>
    public void CancelStatement()
    {
        CancellationTokenSource? cts;
        lock (_cancelGate) cts = _statementCts;
        try { cts?.Cancel(); }
        catch (ObjectDisposedException) { } // the statement ended meanwhile
    }

    /// <summary>The token of the statement now running (starts one when none is).</summary>
    private CancellationToken StatementToken
    {
        get
        {
            lock (_cancelGate)
            {
                if (_statementCts is null)
                {
                    if (_options.StatementTimeout > TimeSpan.Zero) _statementTimeout = new CancellationTokenSource(_options.StatementTimeout);
                    _statementCts = _statementTimeout is null
                        ? CancellationTokenSource.CreateLinkedTokenSource(_stopping)
                        : CancellationTokenSource.CreateLinkedTokenSource(_stopping, _statementTimeout.Token);
                    _disconnectCheck = new Timer(_ => CheckDisconnected(), null, DisconnectCheckInterval, DisconnectCheckInterval);
                }
                return _statementCts.Token;
            }
        }
    }

    /// <summary>The statement is over (ReadyForQuery is going out): a later CancelRequest finds nothing to cancel.</summary>
    private void EndStatement()
    {
        CancellationTokenSource? cts, timeout;
        Timer? check;
        lock (_cancelGate)
        {
            cts = _statementCts;
            timeout = _statementTimeout;
            check = _disconnectCheck;
            _statementCts = null;
            _statementTimeout = null;
            _disconnectCheck = null;
        }
        check?.Dispose();
        // Anything still running on the statement's behalf stops now: a generation whose rows no one will read (the
        // client left while the next row was being made, so its reader was never wound down) would otherwise run on
        // to its max_tokens, since disposing a source does not cancel its token.
        try { cts?.Cancel(); }
        catch (AggregateException) { } // a registration's own failure; the statement is over either way
        cts?.Dispose();
        timeout?.Dispose();
    }

    /// <summary>Why the statement was cancelled, in PostgreSQL's words.</summary>
    private string CancelReason
    {
        get
        {
            lock (_cancelGate)
                return _statementTimeout is { IsCancellationRequested: true }
                    ? "canceling statement due to statement timeout"
                    : "canceling statement due to user request";
        }
    }

    /// <summary>A socket that polls readable with no bytes to read has seen the peer's FIN or RST.</summary>
    private void CheckDisconnected()
    {
        try
        {
            var socket = _client.Client;
            if (socket.Poll(0, System.Net.Sockets.SelectMode.SelectRead) && socket.Available == 0) CancelStatement();
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException or NullReferenceException)
        {
            CancelStatement();
        }
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        using var client = _client;
        _stopping = stopping;
        client.NoDelay = true;
        _stream = client.GetStream();
        var reader = new PgMessageReader(_stream, _options.MaxMessageBytes);
        Session? session = null;
        try
        {
            var startup = await HandshakeAsync(reader, stopping).ConfigureAwait(false);
            if (startup is null) return;
            if (!await AuthenticateAsync(reader, startup, stopping).ConfigureAwait(false)) return;
            session = _engine.OpenSession(ClientAccessRules.For(
                ((System.Net.IPEndPoint)client.Client.RemoteEndPoint!).Address, startup.Get("user")!, _options));
            if (startup.Get("application_name") is { } application) session.SetApplicationName(application);
            _server.Register(this);
            await SendStartupResponseAsync(startup, session.Access, stopping).ConfigureAwait(false);
            await MessageLoopAsync(reader, session, stopping).ConfigureAwait(false);
        }
        catch (PgProtocolException e)
        {
            await TrySendFatalAsync(e.SqlState, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // The server is stopping (SIGTERM, Ctrl-C): say so before closing, as PostgreSQL's fast shutdown does, so an
            // idle client or one whose statement was cut off sees why rather than a lost connection.
            await TrySendFatalAsync(PgSqlState.AdminShutdown, "terminating connection due to administrator command").ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or SocketException or ObjectDisposedException
                                       or OperationCanceledException)
        {
            // The client went away, sent half a message, or let a startup deadline pass: just close.
        }
        finally
        {
            _server.Unregister(this);
            await ClosePortalsAsync().ConfigureAwait(false);
            EndStatement();
            session?.Dispose();
        }
    }

    private async Task MessageLoopAsync(PgMessageReader reader, Session session, CancellationToken ct)
    {
        var skipUntilSync = false;
        var awaitingSync = false; // extended-protocol messages came since the last Sync: "idle in transaction"
        while (true)
        {
            var message = await ReadIdleAsync(reader, awaitingSync, ct).ConfigureAwait(false);
            if (message is ParseMessage or BindMessage or DescribeMessage or ExecuteMessage or CloseMessage or UnsupportedMessage)
                awaitingSync = true;
            switch (message)
            {
                case null or TerminateMessage:
                    return;
                case QueryMessage q:
                    skipUntilSync = false;
                    awaitingSync = false;
                    await ClosePortalsAsync().ConfigureAwait(false);
                    _statements.Remove(""); // a simple query replaces the unnamed statement
                    await SimpleQueryAsync(session, q.Sql, ct).ConfigureAwait(false);
                    break;
                case SyncMessage:
                    skipUntilSync = false;
                    awaitingSync = false;
                    await ClosePortalsAsync().ConfigureAwait(false);
                    EndStatement();
                    ReadyForQuery.Idle.Write(_out);
                    await FlushAsync(ct).ConfigureAwait(false);
                    break;
                case FlushMessage:
                    await FlushAsync(ct).ConfigureAwait(false);
                    break;
                case ParseMessage or BindMessage or DescribeMessage or ExecuteMessage or CloseMessage:
                    if (skipUntilSync) break; // after an error everything up to Sync is discarded
                    if (!await ExtendedAsync(session, message, ct).ConfigureAwait(false))
                    {
                        skipUntilSync = true;
                        await FlushAsync(ct).ConfigureAwait(false);
                    }
                    else if (_out.Length >= FlushThreshold)
                        await FlushAsync(ct).ConfigureAwait(false);
                    break;
                case UnsupportedMessage u:
                    // FunctionCall, COPY data and the rest are not served: one error, then discard until Sync.
                    if (skipUntilSync) break;
                    skipUntilSync = true;
                    new ErrorResponse(new ErrorFields("ERROR", SqlState.FeatureNotSupported,
                        $"message type '{(char)u.Type}' is not supported")).Write(_out);
                    await FlushAsync(ct).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>The next message, waited for no longer than the idle timeout that applies: between an extended
    /// message and its Sync <see cref="PgServerOptions.IdleInTransactionTimeout"/> (25P03), otherwise
    /// <see cref="PgServerOptions.IdleSessionTimeout"/> (57P05); past it the connection ends with that FATAL error.</summary>
    private async Task<IFrontendMessage?> ReadIdleAsync(PgMessageReader reader, bool awaitingSync, CancellationToken ct)
    {
        var (limit, state, reason) = awaitingSync
            ? (_options.IdleInTransactionTimeout, PgSqlState.IdleInTransactionSessionTimeout, "idle-in-transaction timeout")
            : (_options.IdleSessionTimeout, PgSqlState.IdleSessionTimeout, "idle-session timeout");
        if (limit <= TimeSpan.Zero) return await reader.ReadMessageAsync(ct).ConfigureAwait(false);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        idle.CancelAfter(limit);
        try
        {
            return await reader.ReadMessageAsync(idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new PgProtocolException($"terminating connection due to {reason}", state);
        }
    }

    /// <summary>The 1-based character index an engine message points at ("at line L:C", 1-based column), if any.</summary>
    internal static int? PositionOf(string sql, string message)
    {
        var m = LinePattern().Match(message);
        if (!m.Success || !int.TryParse(m.Groups[1].Value, out var line) || !int.TryParse(m.Groups[2].Value, out var column)
            || line < 1 || column < 1)
            return null;
        var offset = 0;
        for (var l = 1; l < line; l++)
        {
            var nl = sql.IndexOf('\n', offset);
            if (nl < 0) return null;
            offset = nl + 1;
        }
        var position = offset + column;
        return position <= sql.Length + 1 ? position : null;
    }

    private static bool IsGeneration(Vib3.Query.Statement? s) =>
        s is Vib3.Query.GenerationStatement or Vib3.Query.Explain { Analyze: true };

    [GeneratedRegex(@"at line (\d+):(\d+)")]
    private static partial Regex LinePattern();

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_out.Length == 0) return;
        try
        {
            await _stream.WriteAsync(_out.Written, ct).ConfigureAwait(false);
            await _stream.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            throw new ClientGoneException(e);
        }
        finally
        {
            _out.Clear();
        }
    }

    private async Task TrySendFatalAsync(string sqlState, string message)
    {
        try
        {
            _out.Clear();
            new ErrorResponse(new ErrorFields("FATAL", sqlState, message)).Write(_out);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await FlushAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ClientGoneException or OperationCanceledException)
        {
        }
    }

    /// <summary>Writing to the socket failed: the client is gone, so the connection ends.</summary>
    private sealed class ClientGoneException(Exception inner) : IOException("the client connection is closed", inner);
}
