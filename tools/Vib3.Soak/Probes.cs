using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vib3.Soak;

/// <summary>How cases send their input and read the answer as an outcome.</summary>
internal static class Probes
{
    /// <summary>A statement through psql: an ERROR line is a clean refusal, a lost connection is not.</summary>
    public static async Task<Seen> PsqlAsync(CaseContext ctx, string sql, TimeSpan deadline)
    {
        var r = await ctx.Server.PsqlAsync(sql, deadline);
        if (r.TimedOut) return new Seen(Outcome.Hang, $"psql: no answer within {deadline.TotalSeconds:0} s");
        if (r.ExitCode == 0) return Seen.Clean($"psql: ok ({Text.Clip(r.Stdout.Trim(), 40)})");
        return PsqlError(r) is { } error ? Judge(error) : Seen.Unclean($"psql exit {r.ExitCode}: {r.FirstErrorLine}");
    }

    /// <summary>The server's "SQLSTATE: message" from psql's verbose ERROR line; null when psql failed otherwise
    /// (connection lost, refused).</summary>
    public static string? PsqlError(ChildResult r) =>
        r.Stderr.Split('\n').FirstOrDefault(l => l.StartsWith("ERROR:", StringComparison.Ordinal)) is { } line
            ? line["ERROR:".Length..].Trim().Replace(": ", " ", StringComparison.Ordinal) : null;

    /// <summary>A statement over a raw connection (simple query): ErrorResponse or completion within the deadline.</summary>
    public static async Task<Seen> RawQueryAsync(CaseContext ctx, byte[] frame, TimeSpan deadline)
    {
        await using var c = await PgRaw.LoginAsync(ctx.Server.PgPort, deadline);
        // A server that refuses a message from its length field answers and closes while the client is still sending
        // the body (PostgreSQL does the same): the write then fails, and what the server said is already waiting.
        try { await c.SendAsync(frame, deadline); }
        catch (IOException) { }
        var m = await c.ReadUntilAsync('Z', deadline);
        return m.Type == 'E' ? Judge(m.Error) : Seen.Clean("completed");
    }

    /// <summary>A server error ("SQLSTATE message"): XX000 (internal) is not a clean refusal, any other SQLSTATE is.</summary>
    public static Seen Judge(string error) =>
        error.StartsWith("XX000", StringComparison.Ordinal) ? Seen.Unclean(Text.Clip(error)) : Seen.Clean(Text.Clip(error));

    /// <summary>A chat completion with <paramref name="model"/>: 200 or a JSON 4xx/501 is clean, a 500 is not.</summary>
    public static async Task<Seen> ChatAsync(CaseContext ctx, string model, TimeSpan deadline)
    {
        var body = $$"""{"model": "{{model}}", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}""";
        return await PostAsync(ctx, "v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"), deadline);
    }

    public static async Task<Seen> PostAsync(CaseContext ctx, string path, HttpContent content, TimeSpan deadline)
    {
        try
        {
            using var response = await ctx.Server.PostAsync(path, content, deadline);
            var text = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            var what = $"HTTP {status}: {Text.Clip(text, 100)}";
            return status is >= 200 and < 300 or >= 400 and < 500 or 501 ? Seen.Clean(what) : Seen.Unclean(what);
        }
        catch (TaskCanceledException)
        {
            return new Seen(Outcome.Hang, $"HTTP: no answer within {deadline.TotalSeconds:0} s");
        }
    }

    /// <summary>Opens up to <paramref name="count"/> bare TCP connections (each with a short connect deadline).</summary>
    public static async Task<List<TcpClient>> OpenAsync(int port, int count, CancellationToken ct)
    {
        var open = new List<TcpClient>();
        for (var i = 0; i < count && !ct.IsCancellationRequested; i++)
        {
            var tcp = new TcpClient();
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                cts.CancelAfter(TimeSpan.FromSeconds(2));
                await tcp.ConnectAsync(IPAddress.Loopback, port, cts.Token);
                open.Add(tcp);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                tcp.Dispose();
            }
        }
        return open;
    }
}
