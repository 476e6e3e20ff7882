using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Vib3.Engine;

namespace Vib3.Server.PgWire;

/// <summary>A Postgres wire protocol (3.0) server (on 127.0.0.1 unless told otherwise): psql and Postgres drivers run vib3 statements
/// through it. Every connection runs on its own task with its own engine <see cref="Session"/>.</summary>
public sealed class PgServer : IAsyncDisposable
{
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

    public PgServer(Vib3Engine engine, PgServerOptions? options = null)
    {
        _engine = engine;
        _options = options ?? new PgServerOptions();
        if (_options.MaxConcurrentGenerations < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "MaxConcurrentGenerations must be at least 1");
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
        _listener = new TcpListener(address, _options.Port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
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
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener!.AcceptTcpClientAsync(_stopping.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (ObjectDisposedException) { break; }
            catch (SocketException) when (_stopping.IsCancellationRequested) { break; }
            catch (SocketException) { continue; } // one failed accept (client reset) does not stop the server

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
}
