using Vib3.Core;
using Vib3.Engine;
using Vib3.Query;
using Vib3.Query.Execution;
using Vib3.Server.PgWire.Protocol.Backend;
using Vib3.Server.PgWire.Protocol.Frontend;

namespace Vib3.Server.PgWire;

/// <summary>The extended query protocol: Parse, Bind, Describe, Execute, Close, Sync, Flush.
/// <para>A portal runs its statement when it is bound: Bind calls the engine with the decoded parameters and the
/// portal keeps the result, whose rows (possibly a live token stream) Execute then sends, up to its row limit.
/// So Describe of a portal always knows the real columns. Describe of a statement runs nothing that has effects:
/// GENERATE/CHAT/EXPLAIN/SHOW name/SHOW ALL have fixed columns; SELECT, DESCRIBE and the SHOW MODELS/TIERS/EXPERTS system
/// tables are evaluated (read-only, cheap) with every parameter NULL to learn their columns; other commands
/// (SET, USE MODEL, CREATE/DROP MODEL...) return NoData.</para>
/// <para>vib3 has no transactions, so every Sync ends the implicit one: all portals close then.</para>
/// <para>A generation slot is held only while a generation runs: through Bind for a GENERATE/CHAT/EXPLAIN ANALYZE
/// that Bind runs to its end, and from the first Execute until the portal closes for a streamed GENERATE (whose
/// tokens are generated as Execute sends them). A portal bound and never executed holds none.</para></summary>
internal sealed partial class PgConnection
{
    private readonly Dictionary<string, PreparedStatement> _statements = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Portal> _portals = new(StringComparer.Ordinal);

    /// <summary>A parsed statement; <see cref="Statement"/> is null for an empty query.</summary>
    /// <param name="Discard">The client sent DISCARD ALL (run as RESET ALL, then the named statements are dropped).</param>
    private sealed record PreparedStatement(string Sql, Statement? Statement, int[] ParameterTypes, bool Discard = false);

    /// <summary>A bound statement and its running result.</summary>
    private sealed class Portal(IAsyncEnumerator<StatementResult>? results, StatementResult? result,
        IReadOnlyList<FieldDescription> fields, string sql) : IAsyncDisposable
    {
        public StatementResult? Result { get; } = result;
        public IReadOnlyList<FieldDescription> Fields { get; } = fields;
        public string Sql { get; } = sql;
        public IAsyncEnumerator<object?[]>? Rows { get; set; }
        public bool Done { get; set; }

        /// <summary>A streamed GENERATE: its tokens are generated as Execute asks for them, holding a slot.</summary>
        public bool StreamsGeneration { get; init; }

        /// <summary>The generation slot a streamed GENERATE portal takes at its first Execute and holds until it closes.</summary>
        public IDisposable? Slot { get; set; }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (Rows is not null) await Rows.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                try
                {
                    if (results is not null) await results.DisposeAsync().ConfigureAwait(false);
                }
                finally
                {
                    Slot?.Dispose();
                }
            }
        }
    }

    /// <summary>Handles one extended-protocol message; false when it failed (the caller then skips until Sync).</summary>
    private async Task<bool> ExtendedAsync(Session session, IFrontendMessage message, CancellationToken ct)
    {
        string? sql = null;
        try
        {
            switch (message)
            {
                case ParseMessage p:
                    sql = p.Sql;
                    Parse(p);
                    break;
                case BindMessage b:
                    sql = LookupStatement(b.Statement).Sql;
                    await BindAsync(session, b, ct).ConfigureAwait(false);
                    break;
                case DescribeMessage { Kind: (byte)'S' } d:
                    var statement = LookupStatement(d.Name);
                    sql = statement.Sql;
                    await DescribeStatementAsync(session, statement, ct).ConfigureAwait(false);
                    break;
                case DescribeMessage d:
                    DescribePortal(LookupPortal(d.Name));
                    break;
                case ExecuteMessage e:
                    var portal = LookupPortal(e.Portal);
                    sql = portal.Sql;
                    await ExecutePortalAsync(portal, e.MaxRows, ct).ConfigureAwait(false);
                    break;
                case CloseMessage { Kind: (byte)'S' } c:
                    _statements.Remove(c.Name);
                    CloseComplete.Instance.Write(_out);
                    break;
                case CloseMessage c:
                    if (_portals.Remove(c.Name, out var closed)) await closed.DisposeAsync().ConfigureAwait(false);
                    CloseComplete.Instance.Write(_out);
                    break;
            }
            return true;
        }
        catch (ClientGoneException) { throw; }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (Exception e)
        {
            WriteError(e, sql);
            return false;
        }
    }

    private void WriteError(Exception e, string? sql)
    {
        var (state, message) = e switch
        {
            Vib3Exception v => (v.SqlState, v.Message),
            OperationCanceledException => (SqlState.QueryCanceled, CancelReason),
            _ => (SqlState.InternalError, e.Message),
        };
        new ErrorResponse(new ErrorFields("ERROR", state, message,
            Position: sql is null ? null : PositionOf(sql, message))).Write(_out);
    }

    private void Parse(ParseMessage p)
    {
        if (p.Statement.Length > 0 && _statements.ContainsKey(p.Statement))
            throw new Vib3Exception(PgSqlState.DuplicatePreparedStatement, $"prepared statement \"{p.Statement}\" already exists");
        Statement? statement = null;
        var discard = DiscardAll.Matches(p.Sql);
        var sql = discard ? DiscardAll.EngineEquivalent : p.Sql;
        if (!sql.AsSpan().Trim().Trim(';').Trim().IsEmpty)
        {
            var parsed = StatementParser.Parse(sql);
            if (parsed.Count > 1)
                throw new Vib3Exception(SqlState.SyntaxError, "cannot insert multiple commands into a prepared statement");
            statement = parsed.Count == 1 ? parsed[0] : null;
        }
        var count = Math.Max(p.ParameterTypes.Count, statement is null ? 0 : ParameterCounter.Highest(statement));
        var types = new int[count];
        for (var i = 0; i < p.ParameterTypes.Count; i++) types[i] = p.ParameterTypes[i];
        _statements[p.Statement] = new PreparedStatement(sql, statement, types, discard);
        ParseComplete.Instance.Write(_out);
    }

    private PreparedStatement LookupStatement(string name) =>
        _statements.TryGetValue(name, out var s) ? s
        : throw new Vib3Exception(PgSqlState.UndefinedPreparedStatement,
            name.Length == 0 ? "unnamed prepared statement does not exist" : $"prepared statement \"{name}\" does not exist");

    private Portal LookupPortal(string name) =>
        _portals.TryGetValue(name, out var p) ? p
        : throw new Vib3Exception(PgSqlState.UndefinedCursor, $"portal \"{name}\" does not exist");

    private async Task BindAsync(Session session, BindMessage b, CancellationToken ct)
    {
        var statement = LookupStatement(b.Statement);
        if (b.Portal.Length > 0 && _portals.ContainsKey(b.Portal))
            throw new Vib3Exception(PgSqlState.DuplicateCursor, $"cursor \"{b.Portal}\" already exists");
        if (b.Portal.Length == 0 && _portals.Remove("", out var old)) await old.DisposeAsync().ConfigureAwait(false);

        var types = statement.ParameterTypes;
        if (b.Parameters.Count != types.Length)
            throw new Vib3Exception(PgSqlState.ProtocolViolation,
                $"bind message supplies {b.Parameters.Count} parameters, but prepared statement \"{b.Statement}\" requires {types.Length}");
        var parameters = new object?[types.Length];
        for (var i = 0; i < parameters.Length; i++)
        {
            var format = BindMessage.FormatOf(b.ParameterFormats, i, parameters.Length)
                ?? throw new Vib3Exception(PgSqlState.ProtocolViolation,
                    $"bind message has {b.ParameterFormats.Count} parameter formats but {parameters.Length} parameters");
            parameters[i] = PgTypes.DecodeParameter(b.Parameters[i], format, types[i], i);
        }

        if (statement.Statement is null)
        {
            _portals[b.Portal] = new Portal(null, null, [], statement.Sql);
            BindComplete.Instance.Write(_out);
            return;
        }

        var streams = statement.Statement is GenerationStatement { Options.Stream: true };
        using var slot = IsGeneration(statement.Statement) && !streams ? _server.AcquireGenerationSlot() : null;
        var token = StatementToken;
        var results = session.ExecuteAsync(statement.Sql, [statement.Statement], parameters, token).GetAsyncEnumerator(token);
        try
        {
            if (!await results.MoveNextAsync().ConfigureAwait(false))
            {
                await results.DisposeAsync().ConfigureAwait(false);
                _portals[b.Portal] = new Portal(null, null, [], statement.Sql);
                BindComplete.Instance.Write(_out);
                return;
            }
            var result = results.Current;
            if (statement.Discard)
            {
                DropNamedStatements();
                result = new StatementResult { CommandTag = DiscardAll.Tag };
            }
            var fields = new List<FieldDescription>(result.Columns.Count);
            for (var i = 0; i < result.Columns.Count; i++)
            {
                var format = BindMessage.FormatOf(b.ResultFormats, i, result.Columns.Count)
                    ?? throw new Vib3Exception(PgSqlState.ProtocolViolation,
                        $"bind message has {b.ResultFormats.Count} result formats but query has {result.Columns.Count} columns");
                if (format is not (0 or 1))
                    throw new Vib3Exception(PgSqlState.ProtocolViolation, $"unsupported format code: {format}");
                fields.Add(PgTypes.Field(result.Columns[i]) with { Format = format });
            }
            _portals[b.Portal] = new Portal(results, result, fields, statement.Sql) { StreamsGeneration = streams };
        }
        catch
        {
            await results.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        BindComplete.Instance.Write(_out);
    }

    private async Task DescribeStatementAsync(Session session, PreparedStatement statement, CancellationToken ct)
    {
        // Unspecified parameter types are reported as text: that is how their values are taken.
        new ParameterDescription(statement.ParameterTypes.Select(t => t == PgTypes.Unspecified ? PgTypes.Text : t).ToList()).Write(_out);
        var columns = await ColumnsWithoutEffectsAsync(session, statement, StatementToken).ConfigureAwait(false);
        if (columns is { Count: > 0 })
            new RowDescription(columns.Select(PgTypes.Field).ToList()).Write(_out);
        else
            NoData.Instance.Write(_out);
    }

    /// <summary>The result columns of a statement, found without running anything that has effects; null when none
    /// (a command) or unknown.</summary>
    private static async Task<IReadOnlyList<ColumnDef>?> ColumnsWithoutEffectsAsync(Session session, PreparedStatement statement,
        CancellationToken ct)
    {
        switch (statement.Statement)
        {
            case null:
                return null;
            case GenerationStatement { Options.Stream: true }:
                return [new("token", ColumnType.Text)];
            case GenerationStatement:
                return [new("text", ColumnType.Text), new("prompt_tokens", ColumnType.Int64),
                    new("completion_tokens", ColumnType.Int64), new("finish_reason", ColumnType.Text)];
            case Explain:
                return [new("QUERY PLAN", ColumnType.Text)];
            case ShowAll:
                return Session.ShowAllColumns;
            case ShowVariable v:
                return [new(v.Name.Name, ColumnType.Text)];
            case Select or ShowModels or ShowTiers or ShowExperts or Vib3.Query.Describe:
                try
                {
                    var nulls = new object?[statement.ParameterTypes.Length];
                    await foreach (var result in session.ExecuteAsync(statement.Sql, [statement.Statement!], nulls, ct).ConfigureAwait(false))
                        return result.Columns;
                    return null;
                }
                catch (Vib3Exception)
                {
                    return null; // it fails the same way (with the real parameters, or not) when executed
                }
            default:
                return null;
        }
    }

    private void DescribePortal(Portal portal)
    {
        if (portal.Result is { ReturnsRows: true })
            new RowDescription(portal.Fields).Write(_out);
        else
            NoData.Instance.Write(_out);
    }

    private async Task ExecutePortalAsync(Portal portal, int maxRows, CancellationToken ct)
    {
        if (portal.Result is null)
        {
            EmptyQueryResponse.Instance.Write(_out);
            return;
        }
        var result = portal.Result;
        if (!result.ReturnsRows)
        {
            new CommandComplete(result.CommandTag).Write(_out);
            return;
        }
        var sent = 0;
        if (!portal.Done)
        {
            if (portal.StreamsGeneration) portal.Slot ??= _server.AcquireGenerationSlot();
            portal.Rows ??= result.Rows.GetAsyncEnumerator(StatementToken);
            var limit = maxRows > 0 ? maxRows : int.MaxValue;
            (sent, var exhausted) = await SendDataRowsAsync(portal.Rows, portal.Fields, result.CommandTag == "GENERATE", limit, ct)
                .ConfigureAwait(false);
            if (!exhausted)
            {
                PortalSuspended.Instance.Write(_out);
                return;
            }
            portal.Done = true;
        }
        // A SELECT tag counts the rows this Execute sent, as Postgres does for a portal fetched in parts.
        var tag = result.CommandTag.StartsWith("SELECT ", StringComparison.Ordinal) ? $"SELECT {sent}" : result.CommandTag;
        new CommandComplete(tag).Write(_out);
    }

    /// <summary>DEALLOCATE [PREPARE] name | ALL (what Npgsql's UnprepareAll sends as a simple query): drops prepared
    /// statements, which live here rather than in the engine. Returns the command tag, or null when the text is not
    /// a DEALLOCATE.</summary>
    private string? Deallocate(string sql)
    {
        var m = DeallocatePattern().Match(sql);
        if (!m.Success) return null;
        var name = m.Groups["name"].Value;
        if (name.Equals("ALL", StringComparison.OrdinalIgnoreCase) && !m.Groups["quoted"].Success)
        {
            DropNamedStatements();
            return "DEALLOCATE ALL";
        }
        if (!m.Groups["quoted"].Success) name = name.ToLowerInvariant();
        if (!_statements.Remove(name))
            throw new Vib3Exception(PgSqlState.UndefinedPreparedStatement, $"prepared statement \"{name}\" does not exist");
        return "DEALLOCATE";
    }

    [System.Text.RegularExpressions.GeneratedRegex(
        """^\s*DEALLOCATE\s+(?:PREPARE\s+)?(?:"(?<name>(?<quoted>)[^"]+)"|(?<name>[A-Za-z_][A-Za-z0-9_$]*))\s*;?\s*$""",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex DeallocatePattern();

    private void DropNamedStatements()
    {
        foreach (var key in _statements.Keys.Where(k => k.Length > 0).ToList()) _statements.Remove(key);
    }

    /// <summary>Sync or a simple query ends the implicit transaction: every portal closes.</summary>
    private async Task ClosePortalsAsync()
    {
        if (_portals.Count == 0) return;
        var portals = _portals.Values.ToList();
        _portals.Clear();
        foreach (var p in portals)
        {
            try { await p.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A stream that fails while being abandoned has nothing left to report to.
            }
        }
    }
}
