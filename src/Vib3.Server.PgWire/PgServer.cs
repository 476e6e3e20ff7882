using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Vib3.Engine;

namespace Vib3.Server.PgWire;

/// <summary>A Postgres wire protocol (3.0) server (on 127.0.0.1 unless told otherwise): psql and Postgres drivers run vib3 statements
/// through it. Every connection runs on its own task with its own engine <see cref="Session"/>.</summary>
public sealed class PgServer : IAsyncDisposable
{
    /// <summary>Connections being turned away (53300) at once; beyond this a connection over the cap is just closed,
    /// so a flood costs at most this many file descriptors more than <see cref="PgServerOptions.MaxConnections"/>.</summary>
    private const int MaxRefusals = 16;

    /// <summary>File descriptors kept, beyond those open at start, for what the process opens later (model files,
    /// assemblies loaded on first use, the HTTP server's connections): when the process runs out of them the runtime
    /// itself fails ("Out of memory", exit 134), so connections must never be able to take them all.</summary>
    private const int ReservedFiles = 64;

    private readonly Vib3Engine _engine;
    private readonly PgServerOptions _options;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<int, Task> _connections = new();
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<int, PgConnection> _live = new();
    private TcpListener? _listener;
    private int _activeGenerations;
    private Task? _acceptLoop;
    private int _nextProcessId;
    private int _refusing;

    public PgServer(Vib3Engine engine, PgServerOptions? options = null)
    {
        _engine = engine;
        _options = options ?? new PgServerOptions();
        if (_options.MaxConcurrentGenerations < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "MaxConcurrentGenerations must be at least 1");
        if (_options.MaxConnections < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "MaxConnections must be at least 1");
        if (_options.AdminUser is not null && _options.Password is null)
            throw new Vib3.Core.Vib3Exception(Vib3.Core.SqlState.InvalidParameterValue,
                "an admin user needs a password: without one any client could log in under its name");
        if (_options.Password is { } password) Scram = new ScramSha256(password);
    }

    /// <summary>What <see cref="ListenRule"/> names as the secret this server asks for.</summary>
    public const string SecretDescription = "a password (--pg-password-file or VIB3_PG_PASSWORD)";

    /// <summary>The SCRAM-SHA-256 verifier of <see cref="PgServerOptions.Password"/>; null when clients are trusted.</summary>
    internal ScramSha256? Scram { get; }

    /// <summary>GENERATE statements (and the like) running now, over all connections.</summary>
    public int ActiveGenerations => Volatile.Read(ref _activeGenerations);

    /// <summary>Takes one of <see cref="PgServerOptions.MaxConcurrentGenerations"/> slots, or fails at once with
    /// 53000; disposing the result gives the slot back (once).</summary>
    internal IDisposable AcquireGenerationSlot()
    {
        if (Interlocked.Increment(ref _activeGenerations) > _options.MaxConcurrentGenerations)
        {
            Interlocked.Decrement(ref _activeGenerations);
            throw new Vib3.Core.Vib3Exception("53000",
                $"too many concurrent generations (limit {_options.MaxConcurrentGenerations})");
        }
        return new GenerationSlot(this);
    }

    private sealed class GenerationSlot(PgServer server) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) Interlocked.Decrement(ref server._activeGenerations);
        }
    }

    /// <summary>A connection past authentication: CancelRequests can now name it by its BackendKeyData.</summary>
    internal void Register(PgConnection connection) => _live[connection.ProcessId] = connection;

    internal void Unregister(PgConnection connection) => _live.TryRemove(new(connection.ProcessId, connection));

    /// <summary>A CancelRequest: cancels the running statement of the connection with these keys; no match, no effect.</summary>
    internal void Cancel(int processId, int secretKey)
    {
        if (_live.TryGetValue(processId, out var connection) && connection.SecretKey == secretKey)
            connection.CancelStatement();
    }

    /// <summary>The port listened on (the one chosen when the options said 0); 0 before <see cref="StartAsync"/>.</summary>
    public int Port { get; private set; }

    public Task StartAsync(CancellationToken ct = default)
    {
        if (_listener is not null) throw new InvalidOperationException("the server is already started");
        ct.ThrowIfCancellationRequested();
        var address = _options.ListenAddress ?? IPAddress.Loopback;
        ListenRule.Check(address, _options.Password is not null, _options.InsecureNoAuth, "Postgres", SecretDescription);
        CheckOpenFilesLimit();
        _listener = new TcpListener(address, _options.Port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Refuses to start when the connections allowed could use up the process's file descriptors (as
    /// PostgreSQL refuses to start without enough of them for max_connections).</summary>
    private void CheckOpenFilesLimit()
    {
        if (OpenFilesLimit.Current() is not { } limit || OpenFilesLimit.OpenNow() is not { } open) return;
        var needed = open + ReservedFiles + _options.MaxConnections + MaxRefusals;
        if (limit < needed)
            throw new Vib3.Core.Vib3Exception(Vib3.Core.SqlState.InsufficientResources,
                $"{_options.MaxConnections} connections need up to {needed} open files ({open} open now, {ReservedFiles} kept for later, "
                + $"{MaxRefusals} for refusals under way) but this process may open {limit}: raise the limit (ulimit -n) or lower --max-connections");
    }

    /// <summary>Stops accepting, cancels running statements, closes every connection and waits for their tasks.</summary>
    public async Task StopAsync()
    {
        if (_listener is null) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_acceptLoop is not null) await _acceptLoop.ConfigureAwait(false);
        Task[] running;
        lock (_gate) running = _connections.Values.ToArray();
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var backoff = new AcceptBackoff();
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener!.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException) when (_stopping.IsCancellationRequested) { break; }
            catch (SocketException)
            {
                // A reset client, or no file descriptor left (EMFILE): pause before trying again, never give up.
                try { await Task.Delay(backoff.Next(), _stopping.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                continue;
            }
            backoff.Reset();
            if (!Admit(client)) continue;

            var id = Interlocked.Increment(ref _nextProcessId);
            var connection = new PgConnection(client, _engine, this, _options, id);
            Task task;
            lock (_gate) // the continuation below takes the lock too, so it never runs before the task is recorded
            {
                task = Task.Run(() => connection.RunAsync(_stopping.Token), CancellationToken.None);
                _connections[id] = task;
            }
            _ = task.ContinueWith(_ => { lock (_gate) _connections.Remove(id); }, TaskScheduler.Default);
        }
    }

    /// <summary>True when the connection may be served; otherwise it is turned away with 53300 (or, when that many
    /// refusals are already under way, just closed: a flood of connections must not cost more than the cap).</summary>
    private bool Admit(TcpClient client)
    {
        lock (_gate)
            if (_connections.Count < _options.MaxConnections) return true;
        if (Interlocked.Increment(ref _refusing) > MaxRefusals)
        {
            Interlocked.Decrement(ref _refusing);
            client.Dispose();
            return false;
        }
        _ = Task.Run(async () =>
        {
            try { await TooManyClients.RefuseAsync(client, c => Cancel(c.ProcessId, c.SecretKey)).ConfigureAwait(false); }
            finally { Interlocked.Decrement(ref _refusing); }
        });
        return false;
    }
}
