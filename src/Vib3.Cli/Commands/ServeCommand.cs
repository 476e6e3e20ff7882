using System.CommandLine;
using Vib3.Engine;
using Vib3.Server.PgWire;

namespace Vib3.Cli.Commands;

/// <summary>vib3 serve --pg-port 5433 [--listen ADDR] [--pg-password P]: the Postgres wire server (127.0.0.1 by
/// default) until Ctrl-C. Each connection is a session running the vib3 language.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter output)
    {
        var pgPort = new Option<int>("--pg-port") { Description = "Port of the Postgres wire server (127.0.0.1)", DefaultValueFactory = _ => 5433 };
        var password = new Option<string?>("--pg-password")
        {
            Description = "Require this password (SCRAM-SHA-256) from every Postgres client; default: trust on loopback",
        };
        var maxGenerations = new Option<int>("--max-generations") { Description = "Concurrent GENERATEs before 53000", DefaultValueFactory = _ => 4 };
        var listen = new Option<string>("--listen") { Description = "Address to listen on (default 127.0.0.1)", DefaultValueFactory = _ => "127.0.0.1" };
        var command = new Command("serve", "Serve vib3 over the Postgres wire protocol (psql, Npgsql)") { pgPort, listen, password, maxGenerations };
        command.SetAction(async (r, ct) =>
        {
            var catalog = GlobalOptions.Catalog(r);
            var engine = new Vib3Engine(new EngineOptions(catalog.DataDir, GlobalOptions.RamBudgetBytes(r)));
            await using var server = new PgServer(engine, new PgServerOptions
            {
                Port = r.GetValue(pgPort),
                ListenAddress = System.Net.IPAddress.TryParse(r.GetValue(listen), out var address) ? address
                    : throw new Vib3.Core.Vib3Exception(Vib3.Core.SqlState.InvalidParameterValue, $"--listen '{r.GetValue(listen)}' is not an IP address"),
                Password = r.GetValue(password) ?? Environment.GetEnvironmentVariable("VIB3_PG_PASSWORD"),
                MaxConcurrentGenerations = r.GetValue(maxGenerations),
            });
            await server.StartAsync(ct);
            await output.WriteLineAsync($"vib3: Postgres wire protocol on {r.GetValue(listen)}:{server.Port} (psql -h {r.GetValue(listen)} -p {server.Port} -U you vib3); Ctrl-C stops");
            await output.FlushAsync(ct);
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { /* Ctrl-C: stop serving */ }
            return 0;
        });
        return command;
    }
}
