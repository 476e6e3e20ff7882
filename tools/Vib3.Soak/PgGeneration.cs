using System.Diagnostics;
using Npgsql;

namespace Vib3.Soak;

/// <summary>GENERATE through Npgsql (the extended protocol, as applications send it), read to the end.</summary>
internal static class PgGeneration
{
    public static async Task<NpgsqlConnection> OpenAsync(VibServer server, TimeSpan commandTimeout, CancellationToken ct)
    {
        var c = new NpgsqlConnection(server.NpgsqlConnectionString(commandTimeout));
        try
        {
            await c.OpenAsync(ct);
            return c;
        }
        catch
        {
            await c.DisposeAsync();
            throw;
        }
    }

    public static string Sql(string model, string prompt, int maxTokens, bool stream) =>
        $"GENERATE '{prompt.Replace("'", "''", StringComparison.Ordinal)}' FROM MODEL {model} MAX_TOKENS {maxTokens} TEMPERATURE 0{(stream ? " STREAM" : "")}";

    /// <summary>Runs <paramref name="sql"/> and reads every row, keeping the first column's text: a streamed GENERATE's
    /// token rows, or the one row of text, prompt_tokens, completion_tokens, finish_reason. <paramref name="onPiece"/>
    /// is called as each row arrives. Complete means the statement completed (CommandComplete), whatever its rows.</summary>
    public static async Task<Answer> RunAsync(NpgsqlConnection c, string sql, CancellationToken ct, Action? onPiece = null)
    {
        var clock = Stopwatch.StartNew();
        var text = new System.Text.StringBuilder();
        var pieces = 0;
        try
        {
            await using var cmd = new NpgsqlCommand(sql, c);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                text.Append(reader.IsDBNull(0) ? "" : reader.GetValue(0).ToString());
                pieces++;
                onPiece?.Invoke();
            }
            return new Answer(Ending.Complete, text.ToString(), pieces, "", clock.Elapsed);
        }
        catch (PostgresException e)
        {
            return new Answer(Ending.Refused, text.ToString(), pieces, $"{e.SqlState}: {e.MessageText}", clock.Elapsed);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return new Answer(Ending.TimedOut, text.ToString(), pieces, "client deadline", clock.Elapsed);
        }
        catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
        {
            // the server went away (or closed the connection) with no ErrorResponse
            return new Answer(Ending.Closed, text.ToString(), pieces, $"{e.GetType().Name}: {e.GetBaseException().Message}", clock.Elapsed);
        }
    }
}
