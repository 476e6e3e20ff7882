using System.CommandLine;
using System.Net;
using Vib3.Core;
using Vib3.Engine;
using Vib3.Server.Http;
using Vib3.Server.PgWire;

namespace Vib3.Cli.Commands;

/// <summary>vib3 serve [--pg-port 5433] [--http-port 8080] [--listen ADDR] [access options, <see cref="ServeAccessOptions"/>]: the
/// Postgres wire server and/or the OpenAI-compatible HTTP server (127.0.0.1 by default) until Ctrl-C, over one
/// engine whose batches both share. With neither port given, the Postgres server runs on 5433.</summary>
internal static class ServeCommand
{
    private const int DefaultPgPort = 5433;

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
        var listen = new Option<string>("--listen") { Description = "Address to listen on (default 127.0.0.1)", DefaultValueFactory = _ => "127.0.0.1" };
        var command = new Command("serve", "Serve vib3 over the Postgres wire protocol (psql, Npgsql) and/or an OpenAI-compatible HTTP API")
        {
            pgPort, httpPort, listen, maxGenerations, maxBatch, maxQueue, preload,
        };
        limits.AddTo(command);
        foreach (var option in access.All) command.Options.Add(option);
        command.SetAction(async (r, ct) =>
        {
            var catalog = GlobalOptions.Catalog(r);
            var host = r.GetValue(listen)!;
            var address = IPAddress.TryParse(host, out var parsed) ? parsed
                : throw new Vib3Exception(SqlState.InvalidParameterValue, $"--listen '{host}' is not an IP address");
            var pg = r.GetValue(pgPort) ?? (r.GetValue(httpPort) is null ? DefaultPgPort : null);
            var (pgPassword, apiKey) = (access.PgPassword(r), access.ApiKey(r));
            if (access.RefuseExposure(r, address, pg is null ? null : pgPassword is not null,
                    r.GetValue(httpPort) is null ? null : apiKey is not null, r.InvocationConfiguration.Error) is { } refused)
                return refused;
            await using var engine = new Vib3Engine(GlobalOptions.EngineOptions(r, catalog.DataDir) with
            {
                MaxBatch = r.GetValue(maxBatch), MaxQueue = r.GetValue(maxQueue), ImportDirs = access.ImportDirs(r),
            });
            await using var pgServer = pg is { } p ? new PgServer(engine, limits.Apply(r, new PgServerOptions
            {
                Port = p,
                ListenAddress = address,
                Password = pgPassword,
                InsecureNoAuth = access.InsecureNoAuth(r),
                TrustedNetworks = access.TrustedNetworks(r),
                AdminUser = access.PgAdminUser(r),
                MaxConcurrentGenerations = r.GetValue(maxGenerations),
            })) : null;
            await using var httpServer = r.GetValue(httpPort) is { } h ? new HttpServer(engine, new HttpServerOptions
            {
                Port = h,
                ListenAddress = address,
                ApiKey = apiKey,
                InsecureNoAuth = access.InsecureNoAuth(r),
                Preload = r.GetValue(preload) ?? [],
            }) : null;
            if (pgServer is not null)
            {
                await pgServer.StartAsync(ct);
                await output.WriteLineAsync($"vib3: Postgres wire protocol on {host}:{pgServer.Port} (psql -h {host} -p {pgServer.Port} -U you vib3)");
            }
            if (httpServer is not null)
            {
                await httpServer.StartAsync(ct);
                await output.WriteLineAsync($"vib3: OpenAI-compatible API on http://{host}:{httpServer.Port}/v1 (health: /health, metrics: /metrics)");
            }
            await output.WriteLineAsync($"vib3: {Vib3.Storage.DirectIoProbe.Describe(catalog.DataDir)}");
            await output.WriteLineAsync("vib3: Ctrl-C stops");
            await output.FlushAsync(ct);
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { /* Ctrl-C: stop serving */ }
            return 0;
        });
        return command;
    }
}
