using System.CommandLine;
using Vib3.Core;
using Vib3.Server.PgWire;

namespace Vib3.Cli.Commands;

/// <summary>vib3 serve's connection and resource limits of the Postgres wire server, named like PostgreSQL's settings;
/// defaults come from <see cref="PgServerOptions"/>. Timeouts are in seconds, 0 meaning none.</summary>
internal sealed class PgLimitOptions
{
    private static readonly PgServerOptions Defaults = new();

    private readonly Option<int> _maxConnections = new("--max-connections")
    {
        Description = "Postgres connections open at once; one more gets 53300 'sorry, too many clients already'",
        DefaultValueFactory = _ => Defaults.MaxConnections,
    };

    private readonly Option<int> _maxMessageBytes = new("--max-message-bytes")
    {
        Description = "Largest statement text or Bind message a Postgres client may send (54000 beyond)",
        DefaultValueFactory = _ => Defaults.MaxMessageBytes,
    };

    private readonly Option<double> _idleTimeout = new("--idle-timeout")
    {
        Description = "Seconds a logged-in Postgres connection may stay idle before FATAL 57P05 (0: forever)",
        DefaultValueFactory = _ => Defaults.IdleSessionTimeout.TotalSeconds,
    };

    private readonly Option<double> _idleInTransactionTimeout = new("--idle-in-transaction-timeout")
    {
        Description = "Seconds a Postgres client may wait between extended-protocol messages before Sync (a bound portal) before FATAL 25P03 (0: forever)",
        DefaultValueFactory = _ => Defaults.IdleInTransactionTimeout.TotalSeconds,
    };

    private readonly Option<double> _statementTimeout = new("--statement-timeout")
    {
        Description = "Seconds a Postgres statement may run before it is cancelled with 57014 (0: no limit)",
        DefaultValueFactory = _ => Defaults.StatementTimeout.TotalSeconds,
    };

    public static PgLimitOptions Create() => new();

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _maxConnections, _maxMessageBytes, _idleTimeout, _idleInTransactionTimeout, _statementTimeout })
            command.Options.Add(option);
    }

    /// <summary><paramref name="options"/> with the limits given on the command line; a value out of range is a 22023.</summary>
    public PgServerOptions Apply(ParseResult r, PgServerOptions options) => options with
    {
        MaxConnections = AtLeastOne(r.GetValue(_maxConnections), "--max-connections"),
        MaxMessageBytes = AtLeastOne(r.GetValue(_maxMessageBytes), "--max-message-bytes"),
        IdleSessionTimeout = Seconds(r.GetValue(_idleTimeout), "--idle-timeout"),
        IdleInTransactionTimeout = Seconds(r.GetValue(_idleInTransactionTimeout), "--idle-in-transaction-timeout"),
        StatementTimeout = Seconds(r.GetValue(_statementTimeout), "--statement-timeout"),
    };

    private static int AtLeastOne(int value, string name) => value >= 1 ? value
        : throw new Vib3Exception(SqlState.InvalidParameterValue, $"{name} must be at least 1, not {value}");

    private static TimeSpan Seconds(double value, string name) => value is >= 0 and <= int.MaxValue / 1000.0
        ? TimeSpan.FromSeconds(value)
        : throw new Vib3Exception(SqlState.InvalidParameterValue, $"{name} must be between 0 and {int.MaxValue / 1000} seconds, not {value}");
}
