using System.Diagnostics;
using Vib3.Engine;
using Vib3.Server.PgWire.Protocol.Backend;

namespace Vib3.Server.PgWire;

/// <summary>The simple query protocol: each statement of a Query message in turn, its rows streamed as they are made.</summary>
internal sealed partial class PgConnection
{
    /// <summary>Runs each statement of the text: RowDescription, DataRows, CommandComplete per statement (or
    /// EmptyQueryResponse when there is none), an ErrorResponse that ends the batch on failure, then one ReadyForQuery.</summary>
    private async Task SimpleQueryAsync(Session session, string sql, CancellationToken ct)
    {
        try
        {
            if (Catalog.PgCatalog.TryWrite(sql, _engine, _out))
            {
                // Catalog queries (Npgsql's type loading, psql's \d and \l) answered from the virtual pg_catalog.
            }
            else if (sql.AsSpan().Trim().Trim(';').Trim().IsEmpty)
                EmptyQueryResponse.Instance.Write(_out);
            else if (Deallocate(sql) is { } tag)
                new CommandComplete(tag).Write(_out);
            else if (DiscardAll.Matches(sql))
            {
                await foreach (var _ in session.ExecuteAsync(DiscardAll.EngineEquivalent, null, StatementToken).ConfigureAwait(false)) { }
                DropNamedStatements();
                new CommandComplete(DiscardAll.Tag).Write(_out);
            }
            else
            {
                // Parsed once, here: the slot check and the engine share the tree (a large statement costs many times
                // its text to parse). A GENERATE/CHAT/EXPLAIN ANALYZE holds a generation slot while the batch runs.
                var parsed = Vib3.Query.StatementParser.Parse(sql);
                using var slot = parsed.Any(IsGeneration) ? _server.AcquireGenerationSlot() : null;
                var statements = 0;
                await foreach (var result in session.ExecuteAsync(sql, parsed, null, StatementToken).ConfigureAwait(false))
                {
                    statements++;
                    if (result.ReturnsRows) await SendRowsAsync(result, ct).ConfigureAwait(false);
                    new CommandComplete(result.CommandTag).Write(_out);
                }
                if (statements == 0) EmptyQueryResponse.Instance.Write(_out);
            }
        }
        catch (ClientGoneException) { throw; }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (Exception e)
        {
            WriteError(e, sql);
        }
        EndStatement();
        ReadyForQuery.Idle.Write(_out);
        await FlushAsync(ct).ConfigureAwait(false);
    }

    private async Task SendRowsAsync(StatementResult result, CancellationToken ct)
    {
        var fields = result.Columns.Select(PgTypes.Field).ToList();
        new RowDescription(fields).Write(_out);
        var rows = result.Rows.GetAsyncEnumerator(StatementToken);
        try
        {
            await SendDataRowsAsync(rows, fields, result.CommandTag == "GENERATE", int.MaxValue, ct).ConfigureAwait(false);
        }
        finally
        {
            await rows.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sends DataRows until the rows end or <paramref name="limit"/> went out, each value in its field's
    /// format (0 text, 1 binary). A streamed GENERATE (no row count in its tag) sends each row (a token) at once;
    /// otherwise output goes out when a row was slow to come, when the buffer is large, or while waiting for the
    /// next row. Returns the rows sent and whether the rows ended.</summary>
    private async Task<(int Sent, bool Exhausted)> SendDataRowsAsync(IAsyncEnumerator<object?[]> rows,
        IReadOnlyList<FieldDescription> fields, bool streamed, int limit, CancellationToken ct)
    {
        var sent = 0;
        while (sent < limit)
        {
            var started = Stopwatch.GetTimestamp();
            var next = rows.MoveNextAsync();
            if (!next.IsCompleted && _out.Length > 0)
            {
                try
                {
                    await FlushAsync(ct).ConfigureAwait(false); // let the client see what it has while we wait
                }
                catch
                {
                    // The client is gone while the next row is being made: stop making it and let that step end before
                    // the caller disposes the rows (an async iterator cannot be disposed mid-step, and its cleanup is
                    // what cancels a generation).
                    CancelStatement();
                    try { await next.ConfigureAwait(false); }
                    catch (Exception) { } // how that step ended: no one is left to tell
                    throw;
                }
            }
            if (!await next.ConfigureAwait(false)) return (sent, true);
            var row = rows.Current;
            var values = new byte[]?[row.Length];
            for (var i = 0; i < row.Length; i++)
                values[i] = i < fields.Count && fields[i].Format == 1
                    ? PgTypes.EncodeBinary(row[i], fields[i].TypeOid)
                    : PgTypes.EncodeText(row[i]);
            new DataRow(values).Write(_out);
            sent++;
            if (streamed || _out.Length >= FlushThreshold || Stopwatch.GetElapsedTime(started) >= SlowRow)
                await FlushAsync(ct).ConfigureAwait(false);
        }
        return (sent, false);
    }
}
