using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Server.Http;
using Vib3.Server.PgWire;

namespace Vib3.Cli.Commands;

/// <summary>vib3 serve [--pg-port 5433] [--http-port 8080] [--listen ADDR] [access options, <see cref="ServeAccessOptions"/>]: the
/// Postgres wire server and/or the OpenAI-compatible HTTP server (127.0.0.1 by default) until SIGINT or SIGTERM, over one
/// engine whose batches both share. With neither port given, the Postgres server runs on 5433.</summary>
internal static class ServeCommand
{
    private const int DefaultPgPort = 5433;
    private const int DefaultShutdownSeconds = 10;

    public static Command Create(TextWriter output)
    {
        var pgPort = new Option<int?>("--pg-port") { Description = $"Port of the Postgres wire server (default {DefaultPgPort} when no --http-port)" };
        var httpPort = new Option<int?>("--http-port") { Description = "Port of the OpenAI-compatible HTTP server (/v1/chat/completions, /metrics)" };
        var access = new ServeAccessOptions();
        var maxGenerations = new Option<int>("--max-generations") { Description = "Concurrent GENERATEs before 53000", DefaultValueFactory = _ => 4 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Sequences a model runs together in one batch", DefaultValueFactory = _ => 32 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Sequences that may wait for the batch before HTTP 429", DefaultValueFactory = _ => 256 };
        var preload = new Option<string[]>("--preload")
        {
            Description = "Model to open before the HTTP server reports ready on /health (repeatable); others open on first use",
            AllowMultipleArgumentsPerToken = true,
        };
        var limits = PgLimitOptions.Create();
        var listen = new Option<string>("--listen") { Description = "Address or host name to listen on (default 127.0.0.1)", DefaultValueFactory = _ => "127.0.0.1" };
        var shutdownTimeout = new Option<int>("--shutdown-timeout")
        {
            Description = $"Seconds the first SIGINT/SIGTERM waits for running generations (cancelled at once) and connections to end and the stores to close (default {DefaultShutdownSeconds})",
            DefaultValueFactory = _ => DefaultShutdownSeconds,
        };
        var command = new Command("serve", "Serve vib3 over the Postgres wire protocol (psql, Npgsql) and/or an OpenAI-compatible HTTP API")
        {
            pgPort, httpPort, listen, shutdownTimeout, maxGenerations, maxBatch, maxQueue, preload,
        };
        limits.AddTo(command);
        foreach (var option in access.All) command.Options.Add(option);
        command.SetAction(async (r, _) => // stopping comes from ShutdownSignals (Vib3Cli turns System.CommandLine's off)
        {
            var catalog = GlobalOptions.Catalog(r);
            var host = r.GetValue(listen)!;
            var address = ListenAddress.Resolve(host);
            var httpPortValue = ListenAddress.Port(r.GetValue(httpPort), httpPort.Name);
            var pg = ListenAddress.Port(r.GetValue(pgPort), pgPort.Name) ?? (httpPortValue is null ? DefaultPgPort : null);
            var drainSeconds = r.GetValue(shutdownTimeout);
            if (drainSeconds < 0) throw new UsageException($"{shutdownTimeout.Name} {drainSeconds} is negative");
            var drain = TimeSpan.FromSeconds(drainSeconds);
            var error = r.InvocationConfiguration.Error;
            var (pgPassword, apiKey) = (access.PgPassword(r), access.ApiKey(r));
            if (access.RefuseExposure(r, address, pg is null ? null : pgPassword is not null,
                    httpPortValue is null ? null : apiKey is not null, error) is { } refused)
                return refused;
            DataDirCheck.EnsureWritable(catalog.DataDir);
            using var signals = new ShutdownSignals(output);
            var engine = GlobalOptions.OpenEngine(r, GlobalOptions.EngineOptions(r, catalog.DataDir) with
            {
                MaxBatch = r.GetValue(maxBatch), MaxQueue = r.GetValue(maxQueue), ImportDirs = access.ImportDirs(r),
            });
            PgServer? pgServer = null;
            HttpServer? httpServer = null;
            try
            {
                if (pg is { } p)
                {
                    pgServer = new PgServer(engine, limits.Apply(r, new PgServerOptions
                    {
                        Port = p,
                        ListenAddress = address,
                        Password = pgPassword,
                        InsecureNoAuth = access.InsecureNoAuth(r),
                        TrustedNetworks = access.TrustedNetworks(r),
                        AdminUser = access.PgAdminUser(r),
                        MaxConcurrentGenerations = r.GetValue(maxGenerations),
                    }));
                    await Bind("Postgres", address, p, pgServer.StartAsync);
                    await output.WriteLineAsync($"vib3: Postgres wire protocol on {host}:{pgServer.Port} (psql -h {host} -p {pgServer.Port} -U you vib3)");
                }
                if (httpPortValue is { } h)
                {
                    httpServer = new HttpServer(engine, new HttpServerOptions
                    {
                        Port = h,
                        ListenAddress = address,
                        ApiKey = apiKey,
                        InsecureNoAuth = access.InsecureNoAuth(r),
                        Preload = r.GetValue(preload) ?? [],
                        ShutdownTimeout = drain,
                    });
                    await Bind("HTTP", address, h, httpServer.StartAsync);
                    await output.WriteLineAsync($"vib3: OpenAI-compatible API on http://{host}:{httpServer.Port}/v1 (health: /health, metrics: /metrics)");
                }
                await output.WriteLineAsync($"vib3: {Vib3.Storage.DirectIoProbe.Describe(catalog.DataDir)}");
                await output.WriteLineAsync($"vib3: RAM budget for model pages {GlobalOptions.RamBudgetLine(r)}");
                await output.WriteLineAsync("vib3: Ctrl-C stops (as does SIGTERM)");
                await output.FlushAsync(CancellationToken.None);
                try { await Task.Delay(Timeout.Infinite, signals.Stopping); }
                catch (OperationCanceledException) { /* the first signal: stop serving */ }
            }
            finally
            {
                if (!await StopWithin(drain, pgServer, httpServer, engine))
                {
                    await error.WriteLineAsync($"vib3: error: the servers did not stop within {shutdownTimeout.Name} {drain.TotalSeconds:0} s; exiting anyway [SQLSTATE {SqlState.QueryCanceled}]");
                    Environment.Exit(Vib3Cli.ExitError); // what did not stop may still hold threads and files
                }
            }
            await output.WriteLineAsync("vib3: stopped");
            return 0;
        });
        return command;
    }

    /// <summary>Starts a server; a port that cannot be listened on (in use, an address not on this machine) is one line.</summary>
    private static async Task Bind(string server, IPAddress address, int port, Func<CancellationToken, Task> start)
    {
        try { await start(CancellationToken.None); }
        catch (Exception e) when (e is SocketException or IOException)
        {
            var cause = e.GetBaseException().Message; // Kestrel wraps the socket's "Address already in use"
            throw new Vib3Exception(SqlState.IoError, $"cannot listen for {server} on {address} port {port}: {cause}");
        }
    }

    /// <summary>Stops the servers (they cancel their running generations and close their connections) and then
    /// closes the engine and its stores; false when that took longer than <paramref name="timeout"/>.</summary>
    private static async Task<bool> StopWithin(TimeSpan timeout, PgServer? pg, HttpServer? http, Vib3Engine engine)
    {
        var stop = Task.Run(async () =>
        {
            await Task.WhenAll(
                pg is null ? Task.CompletedTask : pg.DisposeAsync().AsTask(),
                http is null ? Task.CompletedTask : http.DisposeAsync().AsTask());
            await engine.DisposeAsync();
        });
        if (await Task.WhenAny(stop, Task.Delay(timeout)) != stop) return false;
        await stop; // a failure while stopping is reported as such
        return true;
    }
}
