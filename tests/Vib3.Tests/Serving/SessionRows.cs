using Vib3.Engine;

namespace Vib3.Tests.Serving;

/// <summary>Reads what a session's statements return, for tests that talk to the engine without a front end.</summary>
internal static class SessionRows
{
    /// <summary>The rows of the last statement of <paramref name="sql"/>.</summary>
    public static async Task<List<object?[]>> LastAsync(Session session, string sql)
    {
        var rows = new List<object?[]>();
        await foreach (var result in session.ExecuteAsync(sql))
        {
            rows = [];
            await foreach (var row in result.Rows) rows.Add(row);
        }
        return rows;
    }
}
